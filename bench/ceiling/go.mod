module fragalysis.local/bench/ceiling

go 1.26
