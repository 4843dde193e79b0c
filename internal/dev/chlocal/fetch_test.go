package chlocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// writeTarball writes a gzipped tarball holding files (name → content).
func writeTarball(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"package/package.json", libInTarball, "package/index.js"} {
		content, ok := files[name]
		if !ok {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeNPM puts on $PATH an npm that records its arguments in a log file and
// "packs" the given tarball into the current directory, as npm pack does.
func fakeNPM(t *testing.T, tgz string) (callLog string) {
	t.Helper()
	bin := t.TempDir()
	callLog = filepath.Join(bin, "calls")
	script := "#!/bin/sh\necho \"$@\" >> " + callLog + "\ncp " + tgz + " ./chdb-lib-linux-x64-gnu-" + EngineVersion + ".tgz\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return callLog
}

func TestFetchConcurrentInstallsOnce(t *testing.T) {
	tgz := filepath.Join(t.TempDir(), "pkg.tgz")
	const lib = "\x7fELF pretend library"
	writeTarball(t, tgz, map[string]string{
		"package/package.json": "{}",
		libInTarball:           lib,
		"package/index.js":     "//",
	})
	calls := fakeNPM(t, tgz)
	cache := t.TempDir()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		progress bytes.Buffer
		paths    = make([]string, 8)
		errs     = make([]error, 8)
	)
	for i := range paths {
		wg.Go(func() {
			var out bytes.Buffer
			paths[i], errs[i] = Fetch(t.Context(), cache, &out)
			mu.Lock()
			progress.Write(out.Bytes())
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatalf("Fetch #%d: %v", i, errs[i])
		}
		if paths[i] != LibPath(cache) {
			t.Fatalf("Fetch #%d = %q, want %q", i, paths[i], LibPath(cache))
		}
	}
	got, err := os.ReadFile(LibPath(cache))
	if err != nil || string(got) != lib {
		t.Fatalf("library = %q, %v; want %q", got, err, lib)
	}
	log, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if want := "pack --silent @chdb/lib-linux-x64-gnu@" + EngineVersion + "\n"; string(log) != want {
		t.Fatalf("npm calls = %q, want exactly one %q", log, want)
	}
	if n := strings.Count(progress.String(), "fetching ClickHouse engine (chDB 26.7, ~178 MB download, once) into "); n != 1 {
		t.Errorf("progress has %d fetch lines, want 1:\n%s", n, progress.String())
	}
	if !strings.Contains(progress.String(), "done in ") {
		t.Errorf("progress lacks the elapsed time:\n%s", progress.String())
	}
	// Only the library and the lock file remain: no tarball, no temp files.
	var left []string
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			left = append(left, strings.TrimPrefix(p, cache+"/"))
		}
		return err
	})
	want := []string{"chdb-" + EngineVersion + ".lock", "chdb-" + EngineVersion + "/" + libName}
	if strings.Join(left, ",") != strings.Join(want, ",") && strings.Join(left, ",") != want[1]+","+want[0] {
		t.Errorf("cache holds %v, want %v", left, want)
	}
}

func TestFetchTarballWithoutLibrary(t *testing.T) {
	tgz := filepath.Join(t.TempDir(), "pkg.tgz")
	writeTarball(t, tgz, map[string]string{"package/package.json": "{}"})
	fakeNPM(t, tgz)
	cache := t.TempDir()
	_, err := Fetch(t.Context(), cache, nil)
	if err == nil || !strings.Contains(err.Error(), "no package/libchdb.so in tarball") {
		t.Fatalf("Fetch = %v, want a missing-library error", err)
	}
	if _, err := os.Stat(LibPath(cache)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("library exists after a failed fetch: %v", err)
	}
}

func TestFetchWithoutNPM(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Fetch(t.Context(), t.TempDir(), nil)
	if !errors.Is(err, ErrNPMNotFound) {
		t.Fatalf("Fetch = %v, want ErrNPMNotFound", err)
	}
	if !strings.Contains(err.Error(), "set SLUICE_CLICKHOUSE_ADDR") {
		t.Errorf("error %q does not say how to do without npm", err)
	}
}

func TestFetchInstalledIsNoop(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no npm: must not be needed
	cache := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(LibPath(cache)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(LibPath(cache), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	got, err := Fetch(t.Context(), cache, &out)
	if err != nil || got != LibPath(cache) || out.Len() != 0 {
		t.Fatalf("Fetch = %q, %v, progress %q; want %q, nil, nothing", got, err, out.String(), LibPath(cache))
	}
}

// TestDefaultCacheDir checks that the default follows the user cache directory and
// that SLUICE_CACHE_DIR, which package config reads, is not read here.
func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("SLUICE_CACHE_DIR", "/x/y")
	t.Setenv("XDG_CACHE_HOME", "/c")
	if got := DefaultCacheDir(); got != "/c/sluice" {
		t.Errorf("DefaultCacheDir = %q with XDG_CACHE_HOME=/c, want /c/sluice", got)
	}
}
