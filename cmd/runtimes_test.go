package cmd

import (
	"regexp"
	"strconv"
	"testing"

	"syncbox/testdata/testenv"
)

// heapLimits runs Debian's JVM and Node inside one container with the given
// --memory and returns the heap each chose for itself.
func heapLimits(t *testing.T, root, memory, cpus string) (jvm, node, jvmCPUs int64) {
	t.Helper()
	const script = `java -Xlog:os+container=trace -XX:+PrintFlagsFinal -version 2>/dev/null | grep -E ' MaxHeapSize |OSContainer::active_processor_count'
node -e 'console.log("node=" + require("v8").getHeapStatistics().heap_size_limit)'`
	out, errOut, code := runSB(t, root, "", "run", "-q", "--protocol", "raw", "--name", "runtimes",
		"--memory", memory, "--cpus", cpus, "--", "/bin/sh", "-c", script)
	if code != 0 {
		t.Fatalf("--memory %s: exit %d: %s", memory, code, errOut)
	}
	num := func(re string) int64 {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("--memory %s: no %s in %q", memory, re, out)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	return num(`MaxHeapSize\s*=\s*(\d+)`), num(`node=(\d+)`), num(`active_processor_count: (\d+)`)
}

// JVM connectors (most Airbyte sources) and Node ones size their heap from
// the container's cgroup. With the host's RAM instead (24 GB here: a 6 GB
// JVM heap under a 256 MiB limit) they are OOM-killed rather than GC.
func TestJVMAndNodeSizeThemselvesFromTheLimits(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireFile(t, "/usr/bin/java", "openjdk-17-jre-headless")
	testenv.RequireFile(t, "/usr/bin/node", "nodejs")
	root := t.TempDir()
	jSmall, nSmall, cpuSmall := heapLimits(t, root, "256MiB", "1")
	jBig, nBig, _ := heapLimits(t, root, "1GiB", "0")
	t.Logf("JVM MaxHeapSize %d / %d, Node heap_size_limit %d / %d (256MiB / 1GiB)", jSmall, jBig, nSmall, nBig)
	// HotSpot's ergonomics: a fraction of the limit it sees (50% at 256 MiB).
	if jSmall > 128<<20 || jBig > 512<<20 || jSmall >= jBig {
		t.Errorf("JVM MaxHeapSize %d at 256MiB, %d at 1GiB: want at most half of each limit, growing with it", jSmall, jBig)
	}
	// --cpus 1 is a CFS quota; HotSpot reads it and sizes its thread pools.
	if cpuSmall != 1 {
		t.Errorf("JVM sees %d processors under --cpus 1", cpuSmall)
	}
	// V8 keeps a floor near 256 MiB, so the small limit is only "smaller".
	if nBig > 1<<30 || nSmall >= nBig {
		t.Errorf("Node heap_size_limit %d at 256MiB, %d at 1GiB: want below the limit, growing with it", nSmall, nBig)
	}
}
