package chlocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// EngineVersion is the chDB release whose libchdb.so Fetch installs.
	// Its ClickHouse engine is 26.7.
	EngineVersion = "26.7.3-stable.1"

	// npmPackage is the npm package that ships libchdb.so for linux/amd64 glibc.
	npmPackage = "@chdb/lib-linux-x64-gnu"

	// libName is the file Fetch installs, and its path inside the npm tarball.
	libName      = "libchdb.so"
	libInTarball = "package/" + libName
)

// DefaultCacheDir returns the directory Start fetches the engine into when
// Options.CacheDir is empty: <os.UserCacheDir()>/sluice, or
// <os.TempDir()>/sluice-cache if no user cache directory can be determined.
// (SLUICE_CACHE_DIR is read by package config, whose Dev.CacheDir callers pass
// as Options.CacheDir.)
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sluice")
	}
	return filepath.Join(os.TempDir(), "sluice-cache")
}

// LibPath returns where Fetch installs libchdb.so under cacheDir.
func LibPath(cacheDir string) string {
	return filepath.Join(cacheDir, "chdb-"+EngineVersion, libName)
}

// Fetch ensures that the ClickHouse engine (chDB's libchdb.so, EngineVersion)
// is installed under cacheDir and returns its path.
//
// When it is missing, Fetch downloads it once with `npm pack` (about 178 MB),
// extracts libchdb.so (about 566 MB) from the tarball and installs it
// atomically; it prints a one-line progress message and the elapsed time to
// progress (which may be nil). Fetch is safe to call from many goroutines and
// processes at once: they serialise on a lock file in cacheDir and all but
// the first find the library installed. ctx bounds the wait for the lock and
// the download.
//
// If npm is not installed, the error wraps ErrNPMNotFound.
func Fetch(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	lib := LibPath(cacheDir)
	if fileExists(lib) {
		return lib, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("chlocal: fetch: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, "chdb-"+EngineVersion+".lock"), progress)
	if err != nil {
		return "", fmt.Errorf("chlocal: fetch: %w", err)
	}
	defer unlock()
	if fileExists(lib) { // another process installed it while we waited
		return lib, nil
	}

	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", ErrNPMNotFound
	}
	fmt.Fprintf(progress, "fetching ClickHouse engine (chDB 26.7, ~178 MB download, once) into %s …\n", filepath.Dir(lib))
	start := time.Now()
	if err := download(ctx, npm, cacheDir, lib); err != nil {
		return "", fmt.Errorf("chlocal: fetch %s@%s: %w", npmPackage, EngineVersion, err)
	}
	fmt.Fprintf(progress, "fetching ClickHouse engine: done in %s\n", time.Since(start).Round(time.Second))
	return lib, nil
}

// download runs npm pack in a temporary directory inside cacheDir and
// installs the library from the tarball at lib. The temporary directory, and
// so the tarball, is removed whatever happens.
func download(ctx context.Context, npm, cacheDir, lib string) error {
	tmp, err := os.MkdirTemp(cacheDir, "fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", npmPackage+"@"+EngineVersion)
	cmd.Dir = tmp
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm pack: %w: %s", err, tail(out.Bytes(), 2048))
	}
	tgzs, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgzs) != 1 {
		return fmt.Errorf("npm pack: expected one .tgz in %s, found %d: %s", tmp, len(tgzs), tail(out.Bytes(), 2048))
	}
	if err := installFromTarball(tgzs[0], lib); err != nil {
		return err
	}
	return os.Remove(tgzs[0])
}

// installFromTarball streams the gzipped tarball at tgz, extracts only
// package/libchdb.so into a temporary file next to lib, syncs it and renames
// it to lib, so lib either is complete or does not exist.
func installFromTarball(tgz, lib string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(tgz), err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s: no %s in tarball", filepath.Base(tgz), libInTarball)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(tgz), err)
		}
		if h.Typeflag == tar.TypeReg && h.Name == libInTarball {
			return writeAtomically(lib, tr, h.Size)
		}
	}
}

// writeAtomically copies exactly size bytes from r into lib through a
// temporary file in lib's directory and a rename.
func writeAtomically(lib string, r io.Reader, size int64) (err error) {
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(lib), "."+libName+".*.partial")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, r)
	if err != nil {
		return fmt.Errorf("extract %s: %w", libInTarball, err)
	}
	if n != size {
		return fmt.Errorf("extract %s: wrote %d of %d bytes", libInTarball, n, size)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), lib)
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait, and returns the function that releases it. It tells progress
// once if it has to wait for another holder.
func lockFile(ctx context.Context, path string, progress io.Writer) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !told {
			fmt.Fprintf(progress, "waiting for another process that is fetching the ClickHouse engine (lock %s) …\n", path)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// tail returns at most the last n bytes of b as a trimmed string.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
