// fragalysis-relocation: both halves of the move, one stack each. `side` in the stack's config
// picks one: "backup" (default; the old cluster: the runbook "Preparing for relocation") or
// "restore" (the new cluster: restore what the backup stack copied). Each side builds its
// components and returns its outputs; the logic lives in components/.
import { backupSide } from "./components/backup/side";
import { loadStackConfig } from "./components/config";
import { restoreSide } from "./components/restore/side";

const config = loadStackConfig();

// The chosen side's outputs are the stack's outputs, under the same names as before the split.
export = config.side === "restore" ? restoreSide(config.restore) : backupSide(config.backup);
