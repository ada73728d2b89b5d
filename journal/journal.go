package journal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// nameTime is the time at the start of an object's name: fixed width, in
// UTC, so that names sort as times do.
const nameTime = "20060102T150405.000000000Z"

// Journal is the erasure journal at one location.
type Journal struct {
	location string
	st       store
	// now is the clock objects are named by; tests replace it.
	now func() time.Time
}

// Open returns the journal at location: s3://bucket/prefix/ (newS3 builds
// the client) or file:///absolute/dir/. A malformed location is an error
// naming what is wrong; nothing is read or written until the journal is
// used.
func Open(ctx context.Context, location string, newS3 func(context.Context) (*s3.Client, error)) (*Journal, error) {
	scheme, where, prefix, err := parseLocation(location)
	if err != nil {
		return nil, err
	}
	j := &Journal{location: location, now: time.Now, st: fileStore{dir: where}}
	if scheme == "s3" {
		if newS3 == nil {
			return nil, fmt.Errorf("journal location %q: no S3 client", location)
		}
		c, err := newS3(ctx)
		if err != nil {
			return nil, fmt.Errorf("journal: s3: %w", err)
		}
		j.st = s3Store{client: c, bucket: where, prefix: prefix}
	}
	return j, nil
}

// CheckLocation returns an error naming what is wrong with a journal
// location, or nil.
func CheckLocation(location string) error {
	_, _, _, err := parseLocation(location)
	return err
}

// parseLocation returns a location's scheme and its directory (file) or
// bucket and prefix (s3).
func parseLocation(location string) (scheme, where, prefix string, err error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", "", "", fmt.Errorf("journal location %q: %w", location, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "", "", "", fmt.Errorf("journal location %q: want file:///absolute/directory/", location)
		}
		return "file", u.Path, "", nil
	case "s3":
		if u.Host == "" {
			return "", "", "", fmt.Errorf("journal location %q: missing bucket after s3://", location)
		}
		prefix := strings.TrimPrefix(u.Path, "/")
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			return "", "", "", fmt.Errorf("journal location %q: the prefix must end in \"/\"", location)
		}
		return "s3", u.Host, prefix, nil
	}
	return "", "", "", fmt.Errorf("journal location %q: want s3://bucket/prefix/ or file:///directory/", location)
}

// Location is where the journal is, as configured.
func (j *Journal) Location() string { return j.location }

// Append writes entries as one new object and returns its name once the
// store confirmed it. It never replaces an object.
func (j *Journal) Append(ctx context.Context, entries []Entry) (string, error) {
	if len(entries) == 0 {
		return "", nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range entries {
		e.V = formatVersion
		if err := enc.Encode(e); err != nil {
			return "", fmt.Errorf("journal: encode: %w", err)
		}
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := j.now().UTC().Format(nameTime) + "-" + hex.EncodeToString(r[:]) + objectSuffix
	if err := j.st.put(ctx, name, buf.Bytes()); err != nil {
		return "", err
	}
	return name, nil
}

// Read calls fn for every entry erased at or after since (the zero time:
// all), object by object in the order they were written. Objects written
// before since are not read: an object is written after the erasures it
// holds.
func (j *Journal) Read(ctx context.Context, since time.Time, fn func(Entry) error) error {
	return j.objects(ctx, since, func(name string, body []byte) error {
		return decode(name, body, since, fn)
	})
}

// objects calls fn with the name and body of every object that may hold
// entries erased at or after since, in the order they were written.
func (j *Journal) objects(ctx context.Context, since time.Time, fn func(name string, body []byte) error) error {
	start := ""
	if !since.IsZero() {
		start = since.UTC().Format(nameTime)
	}
	return j.st.list(ctx, start, func(name string) error {
		body, err := j.st.get(ctx, name)
		if err != nil {
			return err
		}
		return fn(name, body)
	})
}

func decode(name string, body []byte, since time.Time, fn func(Entry) error) error {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		if err := decodeLine(fmt.Sprintf("%s line %d", name, line), sc.Bytes(), since, fn); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("journal: %s: %w", name, err)
	}
	return nil
}

// decodeLine decodes and checks one line (where names it in errors) and
// calls fn unless it was erased before since.
func decodeLine(where string, b []byte, since time.Time, fn func(Entry) error) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("journal: %s: %w", where, err)
	}
	if e.V > formatVersion || e.V < 1 {
		return fmt.Errorf("journal: %s: format version %d, this lethe reads up to %d: upgrade lethe", where, e.V, formatVersion)
	}
	if len(e.SubjectHash) != 32 {
		return fmt.Errorf("journal: %s: subject_hash is not 32 hex digits", where)
	}
	if !since.IsZero() && e.ErasedAt.Before(since) {
		return nil
	}
	return fn(e)
}

// Prune removes the objects written before cutoff and returns how many.
// Names are times, so it reads no object and lists only up to cutoff.
func (j *Journal) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	limit := cutoff.UTC().Format(nameTime)
	n := 0
	errDone := errors.New("done")
	var old []string
	err := j.st.list(ctx, "", func(name string) error {
		if name >= limit {
			return errDone
		}
		old = append(old, name)
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return 0, err
	}
	for _, name := range old {
		if err := j.st.remove(ctx, name); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
