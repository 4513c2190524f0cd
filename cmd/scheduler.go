package cmd

import (
	"strconv"

	"syncbox/run/report"
)

// RunnerOverheadBytes is what a pod or job needs beyond the connector's
// own limit: syncbox's runner process (its peak RSS stays under 64 MiB
// whatever the data; the end-to-end tests hold it to that).
const RunnerOverheadBytes = 64 << 20

// schedulerResources is what `recommend --json` tells a scheduler
// (Kubernetes, Nomad) to give the job that runs syncbox. The connector's
// cgroup is nested inside the job's, so the job's limit must cover the
// connector's limit plus the runner; request equals limit because memory
// cannot be reclaimed from a running sync without killing it (Kubernetes
// "Guaranteed" QoS: never evicted for memory pressure before the others).
type schedulerResources struct {
	// ConnectorLimitBytes is the --memory to pass to syncbox run, so the
	// connector gets the limit the job was sized for.
	ConnectorLimitBytes int64  `json:"connector_limit_bytes"`
	MemoryFlag          string `json:"memory_flag"`
	RunnerOverheadBytes int64  `json:"runner_overhead_bytes"`
	MemoryRequestBytes  int64  `json:"memory_request_bytes"`
	MemoryLimitBytes    int64  `json:"memory_limit_bytes"`
	// Kubernetes resource quantities, e.g. "1088Mi".
	MemoryRequest string `json:"memory_request"`
	MemoryLimit   string `json:"memory_limit"`
}

func forScheduler(connectorLimit int64) schedulerResources {
	job := roundUpMiB(connectorLimit + RunnerOverheadBytes)
	return schedulerResources{
		ConnectorLimitBytes: connectorLimit, MemoryFlag: "--memory " + report.FlagSize(connectorLimit),
		RunnerOverheadBytes: RunnerOverheadBytes,
		MemoryRequestBytes:  job, MemoryLimitBytes: job,
		MemoryRequest: k8sQuantity(job), MemoryLimit: k8sQuantity(job),
	}
}

func roundUpMiB(n int64) int64 { return (n + 1<<20 - 1) &^ (1<<20 - 1) }

// k8sQuantity writes bytes as a Kubernetes quantity in the largest binary
// unit that divides it exactly (Gi, Mi, Ki), else in plain bytes.
func k8sQuantity(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
