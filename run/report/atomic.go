package report

import "syncbox/run/hostfs"

// writeAtomic replaces path with data: a temp file created exclusively in
// the directory (held open, resolved by hostfs's path rule, so a tenant's
// symlink or swapped directory cannot redirect it), fsynced, renamed over
// path, and the directory fsynced. Reports and metrics are read by others
// (node_exporter, dashboards): 0644.
func writeAtomic(path string, data []byte) error {
	return hostfs.WriteFileAtomic(path, data, 0o644)
}
