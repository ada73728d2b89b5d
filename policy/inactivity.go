package policy

import (
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	texttemplate "text/template"

	"go.yaml.in/yaml/v3"
)

// The values of Inactivity.Then.
const (
	// RequestDeletion sets the subject's requested_at column once the
	// warning period is over, which starts the purge's grace period.
	RequestDeletion = "request-deletion"
	// NotifyOnly sends the warning and does nothing else.
	NotifyOnly = "notify-only"
)

// Inactivity is the inactivity: section: subjects inactive for After are
// warned, and those still inactive Warn after the warning are handed to the
// purge (Then: request-deletion) or only notified (Then: notify-only).
type Inactivity struct {
	// LastActive is the timestamp or timestamptz column of the subject
	// table that the application updates when the person is active.
	LastActive Ident `yaml:"last_active"`
	// After is how long a subject must be inactive to be warned.
	After Duration `yaml:"after"`
	// Warn is how long after the warning was delivered a subject still
	// inactive is handed on.
	Warn Duration `yaml:"warn"`
	// Then is RequestDeletion or NotifyOnly.
	Then string `yaml:"then"`
	// Email is the text column that holds the address; required with
	// notify.smtp.
	Email Ident `yaml:"email"`
	// Notify says how warnings are delivered; at least one channel.
	Notify InactivityNotify `yaml:"notify"`

	// Line is where the section starts in the file.
	Line int `yaml:"-"`
}

// InactivityNotify lists the delivery channels of a warning. With both,
// a warning is delivered when both have accepted it.
type InactivityNotify struct {
	// Webhook posts a signed JSON event to the application.
	Webhook *InactivityWebhook `yaml:"webhook"`
	// SMTP mails the subject.
	SMTP *InactivitySMTP `yaml:"smtp"`
}

// InactivityWebhook is a signed JSON POST per warning.
type InactivityWebhook struct {
	// URL receives the POST; http or https.
	URL string `yaml:"url"`
	// SecretEnv names the environment variable that holds the signing
	// secret; the secret itself never appears in the policy.
	SecretEnv string `yaml:"secret_env"`
	// Timeout bounds one delivery attempt. Default 10s.
	Timeout Duration `yaml:"timeout"`

	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// InactivitySMTP is one mail per warning, through LETHE_SMTP_URL.
type InactivitySMTP struct {
	// From is the sender address.
	From string `yaml:"from"`
	// Subject is the subject line, a text/template like the body.
	Subject string `yaml:"subject"`
	// Template is the text body's template file, relative to the policy
	// file.
	Template string `yaml:"template"`
	// HTMLTemplate optionally adds an HTML alternative (html/template).
	HTMLTemplate string `yaml:"html_template"`

	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// MailTemplates are the parsed templates of an smtp: channel. They fail on
// a missing key, so that a misspelt column is an error and never an empty
// word in a mail.
type MailTemplates struct {
	// Subject, Text and HTML (nil when not configured) are the templates.
	Subject, Text *texttemplate.Template
	HTML          *htmltemplate.Template
}

// Templates reads and parses the smtp: channel's templates; file names are
// relative to the directory of the policy file at policyPath.
func (s *InactivitySMTP) Templates(policyPath string) (*MailTemplates, error) {
	dir := filepath.Dir(policyPath)
	read := func(name string) (string, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		b, err := os.ReadFile(name)
		return string(b), err
	}
	mt := &MailTemplates{}
	var err error
	if mt.Subject, err = texttemplate.New("subject").Option("missingkey=error").Parse(s.Subject); err != nil {
		return nil, err
	}
	src, err := read(s.Template)
	if err != nil {
		return nil, err
	}
	if mt.Text, err = texttemplate.New(filepath.Base(s.Template)).Option("missingkey=error").Parse(src); err != nil {
		return nil, err
	}
	if s.HTMLTemplate != "" {
		if src, err = read(s.HTMLTemplate); err != nil {
			return nil, err
		}
		if mt.HTML, err = htmltemplate.New(filepath.Base(s.HTMLTemplate)).Option("missingkey=error").Parse(src); err != nil {
			return nil, err
		}
	}
	return mt, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkInactivity checks the inactivity: section as far as the file and the
// template files show; columns are checked against the catalog, and the
// secret and LETHE_SMTP_URL against the environment, when the job starts.
func (p *Policy) checkInactivity(perr *Error) {
	in := p.Inactivity
	if in == nil {
		return
	}
	if in.LastActive.IsZero() {
		perr.Add(in.Line, "inactivity.last_active is required (the column the application updates when the person is active)")
	}
	for _, c := range []struct {
		id   Ident
		name string
	}{{in.LastActive, "last_active"}, {in.Email, "email"}} {
		if len(c.id.Parts) > 1 {
			perr.Add(in.Line, "inactivity.%s must be a column of the subject table, not %q", c.name, c.id.Raw)
		}
	}
	if in.After <= 0 {
		perr.Add(in.Line, "inactivity.after is required and must be positive, e.g. 365d")
	}
	if in.Warn <= 0 {
		perr.Add(in.Line, "inactivity.warn is required and must be positive, e.g. 30d")
	}
	switch in.Then {
	case RequestDeletion, NotifyOnly:
	case "":
		perr.Add(in.Line, "inactivity.then is required: request-deletion or notify-only")
	default:
		perr.Add(in.Line, "inactivity.then must be request-deletion or notify-only, not %q", in.Then)
	}
	p.checkNotify(perr, "inactivity", in.Line, in.Notify, !in.Email.IsZero())
}

// checkNotify checks the channels of section's notify: (inactivity or
// export); hasEmail says whether section.email is set, which smtp needs.
func (p *Policy) checkNotify(perr *Error, section string, line int, n InactivityNotify, hasEmail bool) {
	if n.Webhook == nil && n.SMTP == nil {
		perr.Add(line, "%s.notify needs webhook:, smtp: or both (how the message reaches the person)", section)
	}
	if w := n.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			perr.Add(w.Line, "%s.notify.webhook.url must be an http or https URL, not %q", section, w.URL)
		}
		if !envName.MatchString(w.SecretEnv) {
			perr.Add(w.Line, "%s.notify.webhook.secret_env must name the environment variable that holds the signing secret, not %q", section, w.SecretEnv)
		}
	}
	if s := n.SMTP; s != nil {
		if !hasEmail {
			perr.Add(line, "%s.email is required with notify.smtp (the column that holds the address)", section)
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			perr.Add(s.Line, "%s.notify.smtp.from %q is not an address: %v", section, s.From, err)
		}
		if s.Subject == "" || s.Template == "" {
			perr.Add(s.Line, "%s.notify.smtp needs subject: and template: (a text/template file)", section)
		} else if _, err := s.Templates(p.Path); err != nil {
			perr.Add(s.Line, "%s.notify.smtp: template: %v", section, err)
		}
	}
}

// setInactivityLines records the lines of the section and its channels.
func setInactivityLines(in *Inactivity, key, val *yaml.Node) {
	if in == nil {
		return
	}
	in.Line = key.Line
	setNotifyLines(&in.Notify, val)
}

// setNotifyLines records the lines of the channels under a section's
// notify: key.
func setNotifyLines(n *InactivityNotify, val *yaml.Node) {
	for i := 0; i+1 < len(val.Content); i += 2 {
		if val.Content[i].Value != "notify" {
			continue
		}
		nv := val.Content[i+1]
		for j := 0; j+1 < len(nv.Content); j += 2 {
			switch nv.Content[j].Value {
			case "webhook":
				if n.Webhook != nil {
					n.Webhook.Line = nv.Content[j].Line
				}
			case "smtp":
				if n.SMTP != nil {
					n.SMTP.Line = nv.Content[j].Line
				}
			}
		}
	}
}
