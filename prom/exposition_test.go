package bulwarkprom_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata from the collectors' output")

// golden returns the exposition text of testdata/name.
func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(b)
}

// compare checks the series named in want's TYPE lines against the
// exposition text want.
func compare(t *testing.T, c prometheus.Collector, want string) {
	t.Helper()
	var names []string
	for _, line := range strings.Split(want, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))
}

// compareGolden checks the complete exposition of c — every series it
// collects, each HELP and TYPE line — against testdata/name; with -update
// it rewrites the file instead (read the diff before committing it).
func compareGolden(t *testing.T, c prometheus.Collector, name string) {
	t.Helper()
	if *update {
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(c))
		families, err := reg.Gather()
		require.NoError(t, err)
		var buf bytes.Buffer
		for _, f := range families {
			_, err := expfmt.MetricFamilyToText(&buf, f)
			require.NoError(t, err)
		}
		require.NoError(t, os.WriteFile(filepath.Join("testdata", name), buf.Bytes(), 0o644))
		reg.Unregister(c)
	}
	// CollectAndCompare registers c in a pedantic registry of its own,
	// which checks the collector's Describe against what it collects.
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(golden(t, name))))
}
