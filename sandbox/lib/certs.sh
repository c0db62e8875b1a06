#!/usr/bin/env bash
# The sandbox cluster's PKI, made fresh for every run with openssl (ECDSA P-256: fast to make):
# a CA, the apiserver's serving certificate, client certificates (admin, kubelet, the
# apiserver's client for kubelets) and the service-account signing key, plus kubeconfigs.
# Sourced after common.sh. make_pki DIR ADDRESS SERVICE_IP writes everything into DIR.
set -euo pipefail

# cert DIR NAME SUBJECT EXT: a key and a certificate signed by DIR/ca, with the X.509 extensions EXT.
cert() {
  local dir="$1" name="$2" subject="$3" ext="$4"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
  openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
}

# kubeconfig FILE SERVER USER: a kubeconfig with one context named "sandbox" for USER's cert.
kubeconfig() {
  local file="$1" server="$2" user="$3" dir
  dir="$(dirname -- "$file")"
  cat >"$file" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: sandbox
    cluster: { server: "$server", certificate-authority: "$dir/pki/ca.crt" }
users:
  - name: $user
    user: { client-certificate: "$dir/pki/$user.crt", client-key: "$dir/pki/$user.key" }
contexts:
  - name: sandbox
    context: { cluster: sandbox, user: $user }
current-context: sandbox
YAML
}

make_pki() {
  local dir="$1" address="$2" service_ip="$3" pki="$1/pki"
  rm -rf "$pki"
  mkdir -p "$pki"
  chmod 700 "$pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=fragalysis-sandbox-ca" -days 2 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$pki/ca.crt" 2>/dev/null
  local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  cert "$pki" apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$address,IP:$service_ip,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert "$pki" admin "/O=system:masters/CN=sandbox-admin" "$client"
  cert "$pki" kubelet "/O=system:nodes/CN=system:node:$SANDBOX_NODE" "$client"
  cert "$pki" apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  cert "$pki" controller-manager "/CN=system:kube-controller-manager" "$client"
  cert "$pki" scheduler "/CN=system:kube-scheduler" "$client"
  # The kubelet's own serving certificate (exec, logs): the apiserver reaches it at ADDRESS.
  cert "$pki" kubelet-serving "/O=system:nodes/CN=system:node:$SANDBOX_NODE" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$address,DNS:$SANDBOX_NODE"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  local server="https://$address:6443" who
  for who in admin kubelet controller-manager scheduler; do
    kubeconfig "$dir/$who.kubeconfig" "$server" "$who"
  done
}
