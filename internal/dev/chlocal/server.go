package chlocal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// DefaultStartTimeout bounds how long Start and Restart wait for a new server
// to answer when Options.StartTimeout is zero. A cold start (library not in
// the page cache) takes a few seconds; a warm one under a second.
const DefaultStartTimeout = 2 * time.Minute

// LogFileName is the file in the data directory that receives the ClickHouse
// process's stdout and stderr, appended to across restarts.
const LogFileName = "chlocal.log"

// Options configures Start.
type Options struct {
	// LibPath is the path to libchdb.so. Empty means Fetch into CacheDir,
	// downloading it on first use.
	LibPath string
	// CacheDir is where Fetch keeps the engine when LibPath is empty; empty
	// means DefaultCacheDir().
	CacheDir string
	// DataDir is where ClickHouse keeps its data; required. It is created if
	// needed and its content persists across Stop/Start and Restart.
	DataDir string
	// TCPPort and HTTPPort are the native-protocol and HTTP ports on
	// 127.0.0.1; 0 picks a free port.
	TCPPort, HTTPPort int
	// Log receives one-line progress messages (fetching, ready); nil
	// discards them.
	Log io.Writer
	// StartTimeout bounds the wait for the server to answer; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// RestartOnCrash makes the server start again at once, on the same ports
	// and data, when its process exits without Stop or Kill having been
	// called. This engine build aborts when a client's connection is reset
	// at some points of a query (a client killed mid-INSERT); ClickHouse
	// itself does not. Clients see a short outage, as after a server crash.
	RestartOnCrash bool
	// ConfigFile, when set, is passed as --config-file=ConfigFile before the
	// other arguments: a server configuration (e.g. remote_servers for a
	// Distributed table's cluster). The command-line options above still win.
	ConfigFile string
}

// Server is a ClickHouse server running in a child process. Its methods are
// safe for concurrent use; Stop, Kill and Restart are serialised.
type Server struct {
	lib      string
	dataDir  string
	tcpPort  int
	httpPort int
	log      io.Writer
	timeout  time.Duration
	restart  bool   // Options.RestartOnCrash
	config   string // Options.ConfigFile

	supervisors sync.WaitGroup // one per started process

	mu      sync.Mutex // serialises Stop, Kill, Restart and crash restarts; guards below
	proc    *process   // the current (possibly exited) child process
	wantUp  bool       // false after Stop or Kill, until Restart
	crashes int        // processes that exited while wanted up
}

// process is one run of the child process.
type process struct {
	cmd      *exec.Cmd
	stdin    io.Closer
	logStart int64         // size of the log file when this process started
	done     chan struct{} // closed when the process has exited and err is set
	err      error         // cmd.Wait's result
}

// Start starts a ClickHouse server on 127.0.0.1 as a child process of this
// binary (see RunIfChild) and returns once it answers both HTTP /ping and a
// native-protocol ping. ctx bounds the fetch and the startup, not the life of
// the server: end that with Stop. When startup fails the child is killed and
// the error includes the tail of the ClickHouse log.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if _, ok := os.LookupEnv(childEnv); ok {
		// We are a child whose binary did not call RunIfChild: running on
		// would start servers recursively.
		return nil, ErrNoRunIfChild
	}
	if opts.DataDir == "" {
		return nil, errors.New("chlocal: Options.DataDir is required")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("chlocal: data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("chlocal: data dir: %w", err)
	}
	s := &Server{
		lib:      opts.LibPath,
		dataDir:  dataDir,
		tcpPort:  opts.TCPPort,
		httpPort: opts.HTTPPort,
		log:      opts.Log,
		timeout:  opts.StartTimeout,
		restart:  opts.RestartOnCrash,
		config:   opts.ConfigFile,
	}
	if s.log == nil {
		s.log = io.Discard
	}
	if s.timeout <= 0 {
		s.timeout = DefaultStartTimeout
	}
	if s.lib == "" {
		if s.lib, err = Fetch(ctx, cmp.Or(opts.CacheDir, DefaultCacheDir()), s.log); err != nil {
			return nil, err
		}
	}
	if !fileExists(s.lib) {
		return nil, fmt.Errorf("chlocal: library %s does not exist", s.lib)
	}

	// Ports picked here may be taken by someone else before ClickHouse binds
	// them; then pick again.
	pick := opts.TCPPort == 0 || opts.HTTPPort == 0
	for attempt := 1; ; attempt++ {
		if pick {
			if s.tcpPort, s.httpPort, err = freePorts(opts.TCPPort, opts.HTTPPort); err != nil {
				return nil, fmt.Errorf("chlocal: pick ports: %w", err)
			}
		}
		err = s.launch(ctx)
		if err == nil {
			return s, nil
		}
		if !pick || attempt == 3 || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

// Addr returns the native-protocol address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort)) }

// HTTPAddr returns the HTTP interface's address, "127.0.0.1:port".
func (s *Server) HTTPAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort)) }

// DataDir returns the absolute data directory.
func (s *Server) DataDir() string { return s.dataDir }

// LogPath returns the file that receives ClickHouse's own output.
func (s *Server) LogPath() string { return filepath.Join(s.dataDir, LogFileName) }

// PID returns the process id of the current child process.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.cmd.Process.Pid
}

// Running reports whether the current child process has not exited.
func (s *Server) Running() bool {
	select {
	case <-s.Done():
		return false
	default:
		return true
	}
}

// Done returns a channel that is closed when the current child process
// exits. After Restart (or a crash restart), call Done again for the new
// process.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.done
}

// Wait blocks until the current child process exits and returns its exit
// error, nil after a clean Stop.
func (s *Server) Wait() error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	<-p.done
	return p.err
}

// Stop shuts the server down cleanly by closing its standard input and waits
// for it to exit. If it has not exited when ctx is done, Stop kills it and
// returns an error wrapping ctx's. Stopping a stopped server returns nil.
// ClickHouse waits for open client connections before it exits (about 5 s
// with idle clickhouse-go pools): close them first for a fast stop.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	err := s.stopLocked(ctx)
	s.mu.Unlock()
	s.supervisors.Wait()
	return err
}

func (s *Server) stopLocked(ctx context.Context) error {
	s.wantUp = false
	p := s.proc
	select {
	case <-p.done:
		return nil
	default:
	}
	p.stdin.Close()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("chlocal: stop: %w: %s", p.err, s.logTail())
		}
		return nil
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("chlocal: stop: did not exit in time, killed: %w", context.Cause(ctx))
	}
}

// Kill kills the server process with SIGKILL, as a crash or an outage would,
// and waits for it to be gone. Killing a stopped server returns nil.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wantUp = false
	p := s.proc
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("chlocal: kill: %w", err)
	}
	<-p.done
	return nil
}

// Restart starts the server again on the same ports and data directory,
// stopping it first (as Stop, bounded by ctx) if it is still running. It
// returns once the new process answers, like Start. After Kill, Restart is
// what brings the server (and RestartOnCrash) back.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(ctx); err != nil {
		return err
	}
	return s.launchLocked(ctx)
}

func (s *Server) launch(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.launchLocked(ctx)
}

// launchLocked starts a child process and waits until it is ready, or kills it.
func (s *Server) launchLocked(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("chlocal: start: %w", err)
	}
	var args []string
	if s.config != "" {
		args = append(args, "--config-file="+s.config)
	}
	spec, err := json.Marshal(childSpec{Lib: s.lib, Args: append(args,
		"--path="+s.dataDir+"/",
		"--tcp_port="+strconv.Itoa(s.tcpPort),
		"--http_port="+strconv.Itoa(s.httpPort),
		"--listen_host=127.0.0.1",
		// Errors and fatal messages (with stack traces) go to the log file.
		"--logger.console=1", "--log-level=error",
		"--interactive",
		"--query", "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP",
	)})
	if err != nil {
		return fmt.Errorf("chlocal: start: %w", err)
	}
	logf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chlocal: start: %w", err)
	}
	defer logf.Close() // the child has its own copy
	fmt.Fprintf(logf, "=== chlocal: starting ClickHouse %s at %s on %s (http %s)\n",
		EngineVersion, time.Now().Format(time.RFC3339), s.Addr(), s.HTTPAddr())
	var logStart int64
	if fi, err := logf.Stat(); err == nil {
		logStart = fi.Size()
	}

	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Dir = s.dataDir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = childSysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("chlocal: start: %w", err)
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("chlocal: start %s: %w", exe, err)
	}
	p := &process{cmd: cmd, stdin: stdin, logStart: logStart, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	if err := s.waitReady(ctx, p); err != nil {
		cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("chlocal: start ClickHouse on %s: %w\n--- %s (tail) ---\n%s", s.Addr(), err, s.LogPath(), s.logTail())
	}
	s.wantUp = true
	s.supervisors.Add(1)
	go s.supervise(p)
	fmt.Fprintf(s.log, "ClickHouse (chDB %s) ready on %s (http %s) in %s\n",
		EngineVersion, s.Addr(), s.HTTPAddr(), time.Since(began).Round(10*time.Millisecond))
	return nil
}

// supervise waits for p to exit and, if the server is still wanted up and p
// is still its process, counts a crash and, with RestartOnCrash, starts a new
// process. Stop waits for it.
//
// The engine does not always exit after a fatal error: it may stop serving
// and linger until its stdin closes. So supervise also watches the log for
// <Fatal> lines and kills the process when one appears.
func (s *Server) supervise(p *process) {
	defer s.supervisors.Done()
	s.watchFatal(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.wantUp || s.proc != p {
		return
	}
	s.crashes++
	if !s.restart {
		fmt.Fprintf(s.log, "ClickHouse exited unexpectedly (%v, see %s)\n", p.err, s.LogPath())
		return
	}
	fmt.Fprintf(s.log, "ClickHouse exited unexpectedly (%v, see %s); restarting\n", p.err, s.LogPath())
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.launchLocked(ctx); err != nil {
		s.wantUp = false
		fmt.Fprintf(s.log, "ClickHouse crash restart failed: %v\n", err)
	}
}

// watchFatal returns when p has exited, killing it first if its log shows
// a fatal error.
func (s *Server) watchFatal(p *process) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	off := p.logStart
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		fatal, next := scanLog(s.LogPath(), off, "<Fatal>")
		off = next
		if fatal {
			p.cmd.Process.Kill()
			<-p.done
			return
		}
	}
}

// scanLog reports whether the log file holds needle after offset off, and
// the offset to scan from next time (keeping an overlap so that a needle
// split across two scans is found).
func scanLog(path string, off int64, needle string) (bool, int64) {
	f, err := os.Open(path)
	if err != nil {
		return false, off
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, off, 1<<30))
	if err != nil || len(b) == 0 {
		return false, off
	}
	if strings.Contains(string(b), needle) {
		return true, off + int64(len(b))
	}
	return false, off + int64(max(len(b)-len(needle), 0))
}

// Crashes returns how many times the server process exited while it was
// wanted up (neither Stop nor Kill called), whether or not RestartOnCrash
// restarted it.
func (s *Server) Crashes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashes
}

// waitReady polls the HTTP and native interfaces until both answer, the
// process exits, ctx is done or the start timeout passes.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout,
		fmt.Errorf("not ready after %s", s.timeout))
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-p.done:
			return fmt.Errorf("process exited during startup (%v)", p.err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", context.Cause(ctx), lastErr)
		case <-tick.C:
		}
		if lastErr = pingHTTP(ctx, hc, s.HTTPAddr()); lastErr != nil {
			continue
		}
		if lastErr = pingNative(ctx, s.Addr()); lastErr == nil {
			return nil
		}
	}
}

func pingHTTP(ctx context.Context, hc *http.Client, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "Ok." {
		return fmt.Errorf("GET /ping: %s %q", resp.Status, body)
	}
	return nil
}

func pingNative(ctx context.Context, addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		DialTimeout: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

// logTail returns the end of the log written since the last start marker.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.LogPath())
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if i := strings.LastIndex(string(b), "=== chlocal: starting"); i >= 0 {
		b = b[i:]
	}
	return tail(b, 4096)
}

// freePorts returns tcp and http unless zero, else distinct free loopback ports.
func freePorts(tcp, http int) (int, int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	pick := func(p *int) error {
		if *p != 0 {
			return nil
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		*p = ln.Addr().(*net.TCPAddr).Port
		return nil
	}
	if err := pick(&tcp); err != nil {
		return 0, 0, err
	}
	if err := pick(&http); err != nil {
		return 0, 0, err
	}
	return tcp, http, nil
}
