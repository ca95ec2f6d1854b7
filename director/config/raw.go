package config

// The raw* types mirror the YAML files key for key. The schema check
// (schema.go) reads them by reflection to refuse unknown keys and values
// of the wrong kind; then they are decoded and resolved into the model
// types of model.go, which is where values are parsed and checked.
//
// A key whose zero value differs from its default is a pointer, so that
// "priority: 0" is checked as 0 rather than taken for "not set". An
// explicit "" is refused by the schema check unless the field is tagged
// lvsd:"empty", so for the other strings "" means "not set".

type rawMain struct {
	Node        string      `yaml:"node"`
	Log         rawLog      `yaml:"log"`
	Control     rawControl  `yaml:"control"`
	HTTP        rawHTTP     `yaml:"http"`
	ServicesDir string      `yaml:"services_dir"`
	VRRP        rawVRRP     `yaml:"vrrp"`
	Sync        *rawSync    `yaml:"sync"`
	Notify      rawNotify   `yaml:"notify"`
	Director    rawDirector `yaml:"director"`
}

type rawLog struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type rawControl struct {
	Socket string `yaml:"socket"`
}

type rawHTTP struct {
	// Listen is a pointer so that an explicit empty string (disabled) is
	// told apart from an absent key (the loopback default).
	Listen *string `yaml:"listen" lvsd:"empty"`
}

type rawVRRP struct {
	Instances  []rawInstance `yaml:"instances"`
	Groups     []rawGroup    `yaml:"groups"`
	RTPriority *int          `yaml:"rt_priority"`
}

type rawInstance struct {
	Name           string      `yaml:"name"`
	Interface      string      `yaml:"interface"`
	VRID           *int        `yaml:"vrid"`
	Priority       *int        `yaml:"priority"`
	Version        *int        `yaml:"version"`
	AdvertInterval *Duration   `yaml:"advert_interval"`
	Preempt        *bool       `yaml:"preempt"`
	PreemptDelay   Duration    `yaml:"preempt_delay"`
	PreemptReals   *bool       `yaml:"preempt_needs_realservers"`
	AuthPass       string      `yaml:"auth_pass"`
	Unicast        *rawUnicast `yaml:"unicast"`
	Paths          []rawPath   `yaml:"paths"`
	VirtualIPs     []string    `yaml:"virtual_ips"`
	VirtualMAC     bool        `yaml:"virtual_mac"`
	Checksum       string      `yaml:"checksum"`
	Announce       rawAnnounce `yaml:"announce"`
	Track          rawTrack    `yaml:"track"`
	Handover       rawHandover `yaml:"handover"`
}

type rawUnicast struct {
	Source string   `yaml:"source"`
	Peers  []string `yaml:"peers"`
}

type rawAnnounce struct {
	Repeat   *int      `yaml:"repeat"`
	Interval *Duration `yaml:"interval"`
	Refresh  Duration  `yaml:"refresh"`
}

type rawTrack struct {
	Interfaces []rawTrackInterface `yaml:"interfaces"`
	Scripts    []rawTrackScript    `yaml:"scripts"`
}

type rawTrackInterface struct {
	Name   string `yaml:"name"`
	Weight int    `yaml:"weight"`
}

type rawTrackScript struct {
	Name     string    `yaml:"name"`
	Command  []string  `yaml:"command"`
	Interval *Duration `yaml:"interval"`
	Timeout  *Duration `yaml:"timeout"`
	Weight   int       `yaml:"weight"`
	Rise     *int      `yaml:"rise"`
	Fall     *int      `yaml:"fall"`
}

type rawHandover struct {
	OnStop  *bool     `yaml:"on_stop"`
	Timeout *Duration `yaml:"timeout"`
}

type rawGroup struct {
	Name      string   `yaml:"name"`
	Instances []string `yaml:"instances"`
}

type rawSync struct {
	Interface  string    `yaml:"interface"`
	SyncID     *int      `yaml:"sync_id"`
	HoldResets *Duration `yaml:"hold_resets"`
}

type rawNotify struct {
	Command []string  `yaml:"command"`
	Webhook string    `yaml:"webhook"`
	Timeout *Duration `yaml:"timeout"`
	Email   *rawEmail `yaml:"email"`
}

type rawDirector struct {
	ReconcileInterval *Duration `yaml:"reconcile_interval"`
	OnStop            string    `yaml:"on_stop"`
	LoadModule        bool      `yaml:"load_module"`
	SetSysctls        bool      `yaml:"set_sysctls"`
	MemoryLimit       string    `yaml:"memory_limit"`
}

type rawService struct {
	Name           string          `yaml:"name"`
	Virtual        string          `yaml:"virtual"`
	FWMark         *int64          `yaml:"fwmark"`
	Family         string          `yaml:"family"`
	Protocol       string          `yaml:"protocol"`
	Scheduler      string          `yaml:"scheduler"`
	SchedulerFlags []string        `yaml:"scheduler_flags"`
	Forward        string          `yaml:"forward"`
	Persistence    *rawPersistence `yaml:"persistence"`
	Quiescent      bool            `yaml:"quiescent"`
	Sorry          string          `yaml:"sorry"`
	Check          *rawCheck       `yaml:"check"`
	Reals          []rawReal       `yaml:"reals"`
}

type rawPersistence struct {
	Timeout *Duration `yaml:"timeout"`
	Netmask *int      `yaml:"netmask"`
}

type rawReal struct {
	Address        string    `yaml:"address"`
	Weight         *int      `yaml:"weight"`
	UpperThreshold int       `yaml:"upper_threshold"`
	LowerThreshold int       `yaml:"lower_threshold"`
	Forward        string    `yaml:"forward"`
	Check          *rawCheck `yaml:"check"`
}

type rawCheck struct {
	Type     string    `yaml:"type"`
	Interval *Duration `yaml:"interval"`
	Timeout  *Duration `yaml:"timeout"`
	Rise     *int      `yaml:"rise"`
	Fall     *int      `yaml:"fall"`
	Initial  string    `yaml:"initial"`
	Retry    *Duration `yaml:"retry_interval"`
	Port     *int      `yaml:"port"`
	Address  string    `yaml:"address"`
	Source   string    `yaml:"source"`

	// http and https
	Method     string `yaml:"method"`
	Path       string `yaml:"path"`
	Host       string `yaml:"host"`
	Status     []int  `yaml:"expect_status"`
	Body       string `yaml:"expect_body"`
	BodyRegex  string `yaml:"expect_regex"`
	TLSVerify  *bool  `yaml:"tls_verify"`
	ServerName string `yaml:"sni"`

	// tcp and udp
	Send   string `yaml:"send"`
	Expect string `yaml:"expect"`

	// dns
	Query     string `yaml:"query"`
	QueryType string `yaml:"query_type"`

	// external
	Command []string `yaml:"command"`
}
