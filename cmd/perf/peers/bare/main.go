// Command bare is the bare peer cmd/perf measures rostersync against: a
// minimal net/http client that sends the requests an apply of a roster of
// changed users sends, and nothing else. It lists the users (Smartflo:
// the cursor pages of 100, one after another; DNL: the first page of
// 1,000, then the rest at once within the workers), PATCHes each id with
// one field, then, on Smartflo, lists the users once more, which is what
// rostersync's verification sends there (DNL answers a PATCH with the user,
// so verifying costs nothing). It keeps no state, plans nothing, writes no
// report and retries nothing: any failure ends it with exit 1.
//
//	ROSTERSYNC_TOKEN=... bare -target smartflo -base-url URL -ids FILE -field name -prefix 'Peer ' -workers 16
//
// It prints "<requests> <patches>" on success.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

func main() {
	target := flag.String("target", "", "smartflo or dnl")
	base := flag.String("base-url", "", "API root without /v1")
	idsFile := flag.String("ids", "", "file of user ids to PATCH, one a line")
	field := flag.String("field", "name", "the field each PATCH sets")
	prefix := flag.String("prefix", "Peer ", "each PATCH sets field to prefix+id")
	workers := flag.Int("workers", 16, "requests in flight at most")
	flag.Parse()
	p := &peer{target: *target, base: *base, token: os.Getenv("ROSTERSYNC_TOKEN"),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * *workers}}}
	ids, err := readIDs(*idsFile)
	if err == nil {
		err = p.run(ids, *field, *prefix, *workers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	fmt.Println(p.requests.Load(), len(ids))
}

type peer struct {
	target, base, token string
	http                *http.Client
	requests            atomic.Int64
}

func (p *peer) run(ids []string, field, prefix string, workers int) error {
	if err := p.list(workers); err != nil {
		return err
	}
	if err := each(ids, workers, func(id string) error {
		body, _ := json.Marshal(map[string]string{field: prefix + id})
		return p.send(http.MethodPatch, "/v1/user/"+url.PathEscape(id), body, nil)
	}); err != nil {
		return err
	}
	if p.target == "smartflo" {
		return p.list(workers)
	}
	return nil
}

// list reads every user as rostersync's plan does.
func (p *peer) list(workers int) error {
	switch p.target {
	case "smartflo":
		last := ""
		for {
			path := "/v1/users?limit=100"
			if last != "" {
				path += "&last_seen_id=" + url.QueryEscape(last)
			}
			var page struct {
				HasMore    bool        `json:"has_more"`
				LastSeenID json.Number `json:"last_seen_id"`
			}
			if err := p.send(http.MethodGet, path, nil, &page); err != nil {
				return err
			}
			if !page.HasMore {
				return nil
			}
			last = page.LastSeenID.String()
		}
	case "dnl":
		const perPage = 1000
		page := func(n int) (int, error) {
			var out struct {
				Payload struct {
					Total int `json:"total"`
				} `json:"payload"`
			}
			err := p.send(http.MethodGet, fmt.Sprintf("/v1/user/list?order_by=user_id&order_dir=asc&page=%d&per_page=%d", n, perPage), nil, &out)
			return out.Payload.Total, err
		}
		total, err := page(0)
		if err != nil {
			return err
		}
		var rest []string
		for n := 1; n*perPage < total; n++ {
			rest = append(rest, strconv.Itoa(n))
		}
		return each(rest, workers, func(n string) error {
			i, _ := strconv.Atoi(n)
			_, err := page(i)
			return err
		})
	}
	return fmt.Errorf("-target must be smartflo or dnl, not %q", p.target)
}

// send sends one request and reads the whole answer, decoding it into out
// when out is not nil.
func (p *peer) send(method, path string, body []byte, out any) error {
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.target == "dnl" {
		req.Header.Set("X-Auth-Token", p.token)
	} else {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	p.requests.Add(1)
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// each runs fn for every item, workers at a time, and returns the first
// error.
func each(items []string, workers int, fn func(string) error) error {
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range max(1, workers) {
		wg.Go(func() {
			for it := range work {
				if err := fn(it); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	return first
}

func readIDs(path string) ([]string, error) {
	if path == "" {
		return nil, errors.New("-ids is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := string(bytes.TrimSpace(sc.Bytes())); s != "" {
			ids = append(ids, s)
		}
	}
	return ids, sc.Err()
}
