package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/nuttx-feed/nuttx-feed/activitypub"
	"github.com/nuttx-feed/nuttx-feed/feed"
	"github.com/nuttx-feed/nuttx-feed/internal/metrics"
	"github.com/nuttx-feed/nuttx-feed/internal/safehttp"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/web"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

// Server is a running nuttx-feed: database, federation core, web pages and
// the HTTP listener. Create it with Open, then call Run once.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	lock    *os.File
	site    urls.Site
	trusted []netip.Prefix // --trusted-proxies
	limiter *clientLimiter // --rate-limit; nil: none
	now     func() time.Time
	started time.Time // when Run began
	health  healthCache
	svc     *activitypub.Service
	feed    *feed.Feed
	pages   *web.Renderer
	finger  *webfinger.Server
	echo    *echo.Echo
	ln      net.Listener
	http    *http.Server
	metrics *metrics.Metrics // nil when /metrics is not served
	client  *http.Client     // every outgoing request (safehttp)
	// remoteScheme is how remote follow reaches other servers: "https",
	// "http" in tests (withRemoteScheme).
	remoteScheme string
	// searches holds a slot for each search under way (searchSlots);
	// searchWait is how long a search may wait for one and then run.
	searches   chan struct{}
	searchWait time.Duration
	// metricsLn and metricsHTTP serve --metrics-listen; nil without it.
	metricsLn   net.Listener
	metricsHTTP *http.Server
}

// feedProfile writes the profile of a feed account from the feed's
// settings (activitypub.Options.FeedProfile).
func (s *Server) feedProfile(a store.FeedAccount) activitypub.Profile {
	return feed.AccountProfile(s.cfg.feedConfig().Format, s.site, s.cfg.Username, a)
}

// An Option changes how Open prepares a server.
type Option func(*options)

type options struct {
	ln           net.Listener
	now          func() time.Time
	storeOpts    store.Options
	remoteScheme string
	searchWait   time.Duration
}

// WithListener makes the server serve on ln, a listener the caller opened,
// instead of listening on cfg.Listen (a nil ln changes nothing). The server
// owns ln from then on: Run closes it, and so does Open when it fails.
// Tests listen on 127.0.0.1:0 and pass the listener in, so that no port is
// picked, released and bound again.
func WithListener(ln net.Listener) Option {
	return func(o *options) { o.ln = ln }
}

// withClock makes the server read the time from now (tests of /health).
func withClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// withRemoteScheme makes remote follow reach other servers with scheme
// (tests: "http", as their simulated servers are plain httptest ones).
func withRemoteScheme(scheme string) Option {
	return func(o *options) { o.remoteScheme = scheme }
}

// withSearchWait bounds a search's wait and run to d instead of
// searchTimeout (tests of a busy search).
func withSearchWait(d time.Duration) Option {
	return func(o *options) { o.searchWait = d }
}

// withStoreOptions opens the database with o (tests: a read-only one).
func withStoreOptions(so store.Options) Option {
	return func(o *options) { o.storeOpts = so }
}

// Open prepares a server: it locks the database file (one server per
// database), opens and migrates the database, makes sure the bot exists
// with the configured profile, parses the templates and starts listening on
// cfg.Listen (unless WithListener gave it a listener), so that every
// configuration problem shows before Run.
func Open(ctx context.Context, cfg Config, log *slog.Logger, opts ...Option) (_ *Server, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.remoteScheme == "" {
		o.remoteScheme = "https"
	}
	if o.searchWait == 0 {
		o.searchWait = searchTimeout
	}
	s := &Server{cfg: cfg, log: log, ln: o.ln, now: o.now, remoteScheme: o.remoteScheme, // close, on failure, closes a given listener too
		searches: make(chan struct{}, searchSlots), searchWait: o.searchWait}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if s.lock, err = lockDatabase(cfg.DataDir); err != nil {
		return nil, err
	}
	if s.trusted, err = parseTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	s.limiter = newClientLimiter(cfg.RateLimit)
	if s.store, err = openStore(ctx, cfg.DataDir, o.storeOpts); err != nil {
		return nil, err
	}
	if err := adoptIdentity(ctx, s.store, &cfg, true); err != nil {
		return nil, err
	}
	s.cfg = cfg
	if s.site, err = urls.New(cfg.BaseURL); err != nil {
		return nil, err
	}
	if cfg.metricsServed() {
		s.metrics = metrics.New(metrics.Options{Version: Version, Store: s.store, Feed: cfg.PrometheusURL != "",
			Logger: log.With("component", "metrics")})
	}
	s.client = safehttp.NewClient(safehttp.Options{AllowPrivateNetworks: cfg.AllowPrivateNetworks})
	s.svc, err = activitypub.New(activitypub.Options{
		BaseURL:    cfg.BaseURL,
		Store:      s.store,
		Logger:     log.With("component", "activitypub"),
		Client:     s.client,
		Version:    Version,
		FetchActor: cfg.Username,

		AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		InboxRate:            cfg.inboxRate(),
		Retention:            cfg.Retention,
		Metrics:              s.metrics,
		FeedProfile:          s.feedProfile,
	})
	if err != nil {
		return nil, err
	}
	if err := s.seedProfile(ctx); err != nil {
		return nil, fmt.Errorf("bot account: %w", err)
	}
	feedConfig := cfg.feedConfig()
	feedConfig.Metrics = s.metrics
	if feedConfig.AlertTemplates, err = feed.LoadAlertTemplates(cfg.AlertTemplate); err != nil {
		return nil, err
	}
	if s.feed, err = feed.New(feedConfig, s.store, s.svc, log.With("component", "feed")); err != nil {
		return nil, err
	}
	if s.pages, err = web.New(); err != nil {
		return nil, err
	}
	s.finger = s.newWebFinger()
	s.echo = s.routes()
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	s.http = &http.Server{
		Handler:           routeWithoutTrailingSlash(s.echo),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.MetricsListen != "" {
		if s.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
		s.metricsHTTP = s.newMetricsServer()
		s.metricsHTTP.ErrorLog = s.http.ErrorLog
	}
	return s, nil
}

// seedProfile creates the bot on the first start, with the profile of the
// flags. Later the profile lives in the database (nuttx-feed profile set
// changes it): a profile flag given then is ignored, with a warning.
func (s *Server) seedProfile(ctx context.Context) error {
	p := s.cfg.profile()
	a, err := s.svc.CreateActorIfMissing(ctx, p)
	if err != nil {
		return err
	}
	for _, f := range []struct{ setting, given, stored string }{
		{"display-name", p.DisplayName, a.DisplayName},
		{"summary", p.Summary, a.Summary},
	} {
		if s.cfg.isGiven(f.setting) && f.given != f.stored {
			s.log.Warn("--"+f.setting+" only seeds a new bot's profile and is ignored now; change the profile with nuttx-feed profile set",
				"setting", f.setting)
		}
	}
	return s.followDashboard(ctx, a)
}

// followDashboard points the profile's dashboard link at --dashboard-url
// when it is given and the link points elsewhere, so that the profile
// links the dashboard the posts link (one Update tells the followers).
func (s *Server) followDashboard(ctx context.Context, a *store.Actor) error {
	if !s.cfg.isGiven("dashboard-url") || s.cfg.DashboardURL == "" {
		return nil
	}
	fields := slices.Clone(a.Fields)
	i := slices.IndexFunc(fields, func(f store.Field) bool { return f.Name == dashboardField })
	if i < 0 || fields[i].URL == s.cfg.DashboardURL {
		return nil
	}
	fields[i].URL = s.cfg.DashboardURL
	if _, err := s.svc.EditProfile(ctx, a.Username, activitypub.ProfileEdit{Fields: &fields}); err != nil {
		return err
	}
	s.log.Info("the profile's dashboard link follows --dashboard-url", "url", s.cfg.DashboardURL)
	return nil
}

// Addr returns the address the server listens on: the bound one, with the
// real port when cfg.Listen asked for port 0. Run logs it in its
// "nuttx-feed started" line (listen=ADDR).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves HTTP and runs the delivery queue until ctx ends, then shuts
// down in order: stop taking requests (waiting up to 10 s for those in
// flight), stop the workers, close the database.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	s.started = s.now()
	s.log.Info("nuttx-feed started", "version", Version, "listen", s.Addr(), "base_url", s.cfg.BaseURL,
		"actor", s.site.Actor(s.cfg.Username), "handle", "@"+s.site.Handle(s.cfg.Username), "metrics", s.metricsWhere())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	if s.metricsHTTP != nil {
		g.Go(func() error {
			if err := s.metricsHTTP.Serve(s.metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics http: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error { return s.svc.RunDelivery(gctx) })
	g.Go(func() error { return s.svc.RunPruner(gctx) })
	g.Go(func() error { return s.feed.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s.metricsHTTP != nil {
			s.metricsHTTP.Shutdown(shutdownCtx) // scrapes end at once
		}
		return s.http.Shutdown(shutdownCtx)
	})
	err := g.Wait()
	s.log.Info("nuttx-feed stopped")
	return err
}

func (s *Server) close() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.metricsLn != nil {
		s.metricsLn.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	if s.lock != nil {
		s.lock.Close() // releases the flock; only now that SQLite has closed the file (see lockDatabase)
	}
}

// dbFile is the database file in the data folder dir.
func dbFile(dir string) string { return filepath.Join(dir, store.FileName) }

// databaseExists reports whether dir holds a database. Commands that only
// read or change a running bot's data check it, so that a mistyped --data
// never makes a new bot with a new key.
func databaseExists(dir string) bool {
	fi, err := os.Stat(dbFile(dir))
	return err == nil && fi.Size() > 0 // serve's lock makes an empty file first
}

// openStore opens (creating it if needed) and migrates the database in dir.
func openStore(ctx context.Context, dir string, o store.Options) (*store.Store, error) {
	return store.Open(ctx, dbFile(dir), o)
}

// lockDatabase takes an exclusive flock(2) on the database file itself
// (creating it empty if missing: SQLite takes an empty file for a new
// database), so that two servers never run the same delivery queue or
// rewrite the profile side by side: there is no lock file that could be
// deleted while the server runs. `post` and `feed` take no such lock and
// work beside the server. On Linux a flock and SQLite's own POSIX (fcntl)
// locks on the same file are independent.
//
// The returned file must stay open until the store is closed: POSIX drops
// every fcntl lock a process holds on a file when the process closes any
// descriptor of that file, so closing this one early would silently
// release the locks of SQLite's connections (close closes the store first).
func lockDatabase(dir string) (*os.File, error) {
	f, err := os.OpenFile(dbFile(dir), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another nuttx-feed serve is using %s: %w", dir, err)
	}
	return f, nil
}
