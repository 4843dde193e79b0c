package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestImage builds sluice exactly as the Dockerfile does (its `go build` line, read
// from the file) and runs it as the image would: alone in an otherwise empty root
// (a chroot), as the image's user, with the image's environment. The binary must be
// statically linked, `sluice version` and `sluice config` must succeed, and the
// development tools must say that they are not in this build.
func TestImage(t *testing.T) {
	df := readDockerfile(t, "../../Dockerfile")
	root := t.TempDir()
	bin := filepath.Join(root, df.entrypoint)
	args := append([]string{"build"}, df.buildArgs...)
	out := false
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1], out = bin, true
		}
	}
	if !out {
		t.Fatalf("the Dockerfile's go build line has no -o: %q", df.buildArgs)
	}
	build := exec.Command("go", args...)
	build.Dir = "../.."
	build.Env = append(os.Environ(), df.buildEnv...)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", strings.Join(df.buildEnv, " "), build.Args, err, b)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the image's binary asks for a dynamic loader (PT_INTERP): it cannot start on %s", df.base)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the image's binary needs shared libraries %q (%v): it cannot start on %s", libs, err, df.base)
	}

	run := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(df.entrypoint, args...)
		cmd.Dir = "/"
		cmd.Env = df.env
		cmd.SysProcAttr = inEmptyRoot(t, root, df.uid)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if _, exited := err.(*exec.ExitError); err != nil && !exited {
			t.Fatalf("sluice %s in an empty root: %v", strings.Join(args, " "), err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	if code, stdout, stderr := run("version"); code != 0 || !strings.HasPrefix(stdout, "sluice ") {
		t.Errorf("sluice version in the image: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr := run("config")
	if code != 0 || stderr != "" {
		t.Errorf("sluice config in the image: exit %d, stderr %q", code, stderr)
	}
	// The image's own variables are the ones in force.
	for _, kv := range df.env {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.Contains(stdout, name) || !strings.Contains(stdout, value) {
			t.Errorf("sluice config in the image does not show %s:\n%s", kv, stdout)
		}
	}
	for _, name := range []string{"demo", "dev", "bench"} {
		if code, _, stderr := run(name); code != 1 || !strings.Contains(stderr, "not in this build") {
			t.Errorf("sluice %s in the image: exit %d, stderr %q; want 1 and 'not in this build'", name, code, stderr)
		}
	}
	if code, stdout, _ := run("help"); code != 0 || !strings.Contains(stdout, "demo     not in this build") {
		t.Errorf("sluice help in the image: exit %d; the demo is not marked as left out:\n%s", code, stdout)
	}

	// What compose.yaml and deploy/k8s run with the image is in it, as its user.
	used := deployedCommands(t)
	if len(used) == 0 {
		t.Fatal("no sluice command found in compose.yaml or deploy/k8s")
	}
	for _, c := range used {
		if code, stdout, stderr := run(c.name, "--help"); code != 0 || strings.Contains(stdout, "not in this build") {
			t.Errorf("%s runs sluice %s, which the image lacks (exit %d):\n%s%s", c.file, c.name, code, stdout, stderr)
		}
		if c.uid >= 0 && uint32(c.uid) != df.uid {
			t.Errorf("%s runs the image as uid %d; the Dockerfile's USER is uid %d", c.file, c.uid, df.uid)
		}
	}
}

// deployedCommand is a sluice command that a deployment file runs in the image.
type deployedCommand struct {
	file, name string
	uid        int // the file's runAsUser, or -1
}

// deployedCommands returns the sluice commands that compose.yaml (command:) and the
// Kubernetes manifests (args:) run, in the exec form they use for sluice.
func deployedCommands(t *testing.T) []deployedCommand {
	t.Helper()
	files, err := filepath.Glob("../../deploy/k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []deployedCommand
	exec := regexp.MustCompile(`(?m)^\s*(?:command|args): \["([a-z]+)"`)
	runAs := regexp.MustCompile(`(?m)^\s*runAsUser: (\d+)`)
	for _, f := range append(files, "../../compose.yaml") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		uid := -1
		if m := runAs.FindSubmatch(b); m != nil {
			uid, _ = strconv.Atoi(string(m[1]))
		}
		for _, m := range exec.FindAllSubmatch(b, -1) {
			out = append(out, deployedCommand{filepath.Base(f), string(m[1]), uid})
		}
	}
	return out
}

// inEmptyRoot returns process attributes that start a command with root as its
// file system root, as the user uid. As root that is a chroot; otherwise a user
// namespace, in which the caller's own user may chroot (as uid 0 inside it).
func inEmptyRoot(t *testing.T, root string, uid uint32) *syscall.SysProcAttr {
	if os.Geteuid() == 0 {
		return &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	t.Logf("not root: running in a user namespace as its uid 0, not as uid %d", uid)
	return &syscall.SysProcAttr{
		Chroot:      root,
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
}

// dockerfile is what TestImage takes from the Dockerfile.
type dockerfile struct {
	buildEnv   []string // assignments before the build stage's `go build`
	buildArgs  []string // the arguments after `go build`
	base       string   // the final stage's image
	env        []string // the final stage's ENV, as NAME=value
	uid        uint32   // the final stage's USER
	entrypoint string   // the final stage's program
}

// readDockerfile parses the instructions of the Dockerfile at path that TestImage
// needs, failing the test if one is missing.
func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var df dockerfile
	user := ""
	for _, in := range instructions(string(b)) {
		keyword, rest, _ := strings.Cut(in, " ")
		words := shellWords(rest)
		switch strings.ToUpper(keyword) {
		case "FROM":
			df.base, df.env, user, df.entrypoint = words[0], nil, "", ""
		case "RUN":
			i := strings.Index(rest, "go build ")
			if i < 0 {
				continue
			}
			words = shellWords(rest[:i])
			for _, w := range words {
				if strings.Contains(w, "=") && !strings.HasPrefix(w, "-") {
					df.buildEnv = append(df.buildEnv, w)
				}
			}
			df.buildArgs = shellWords(rest[i+len("go build "):])
		case "ENV":
			df.env = append(df.env, words...)
		case "USER":
			user, _, _ = strings.Cut(rest, ":")
		case "ENTRYPOINT":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil || len(argv) != 1 {
				t.Fatalf("ENTRYPOINT %s: want the program alone, in exec form", rest)
			}
			df.entrypoint = argv[0]
		}
	}
	// distroless's users, by name.
	switch uid, err := strconv.ParseUint(user, 10, 32); {
	case user == "nonroot":
		df.uid = 65532
	case user == "" || user == "root":
		df.uid = 0
	case err == nil:
		df.uid = uint32(uid)
	default:
		t.Fatalf("USER %s: not a user TestImage knows", user)
	}
	if df.buildArgs == nil || df.entrypoint == "" {
		t.Fatalf("%s: no `go build` line or no ENTRYPOINT", path)
	}
	return df
}

// instructions returns the Dockerfile's instructions, continuation lines joined and
// comments left out.
func instructions(s string) []string {
	var out []string
	cur := ""
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || (line == "" && cur == "") {
			continue
		}
		if c, ok := strings.CutSuffix(line, "\\"); ok {
			cur += c
			continue
		}
		out = append(out, strings.TrimSpace(cur+line))
		cur = ""
	}
	return out
}

// shellWords splits s into words as a shell does, for the quoting a Dockerfile's
// build line uses: blanks separate words, and single or double quotes keep what
// they enclose together (-ldflags="-s -w" is one word, -ldflags=-s -w).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}
