package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
)

// runFloor starts a floor server (this program in its -serve-floor mode) on the benchmark's
// database, loads path on it ("" for uploads) with one user per worker, and stops it. Before the
// load it checks that the floor answers a GET as gophermart does, and says so in the note.
func (b *bench) runFloor(ctx context.Context, name, path string, tokens []string) Result {
	addr, err := freeAddr()
	if err != nil {
		return failed(name, err)
	}
	env := maps.Clone(b.floorEnv)
	env["RUN_ADDRESS"] = addr
	pprofURL := ""
	if b.cfg.profileDir != "" {
		paddr, err := freeAddr()
		if err != nil {
			return failed(name, err)
		}
		env[floorPprofEnv], pprofURL = paddr, "http://"+paddr
	}
	p, err := startProc(name, b.self, b.tmp, env, "-serve-floor", addr)
	if err != nil {
		return failed(name, err)
	}
	gm := b.gm
	w := watchRSS(p.cmd.Process.Pid)
	restore := b.use(target{gm: "http://" + addr, acc: b.acc, pprof: pprofURL, cpu: b.cpu.with(p.cmd.Process.Pid), rss: w})
	defer func() {
		restore()
		b.c.CloseIdleConnections() // a graceful shutdown waits for keep-alive connections to close
		if err := p.stop(); err != nil {
			b.stopErrs = append(b.stopErrs, fmt.Errorf("%w; log:\n%s", err, p.tail(20)))
		}
	}()
	if err := p.waitReady(ctx, acceptsConnections(addr)); err != nil {
		return failed(name, err)
	}
	var res Result
	switch path {
	case "":
		res = b.load(ctx, name, []int{http.StatusAccepted}, b.uploadOp(tokens))
	default:
		check := b.compareAnswers(ctx, gm, b.gm, path, tokens[0])
		res = b.load(ctx, name, []int{http.StatusOK}, b.getGzip(path, tokens))
		res.Note = joinNotes(check, res.Note)
	}
	res.PeakRSSMiB = w.finish(name).PeakMiB
	return res
}

// compareAnswers GETs path from gophermart and from the floor as the same user, accepting gzip, and
// says whether the answers agree: the same status, the same Content-Encoding and the same JSON.
func (b *bench) compareAnswers(ctx context.Context, gm, floor, path, token string) string {
	get := func(base string) (response, []byte, error) {
		r, err := do(ctx, b.c, request{method: http.MethodGet, url: base + path, token: token, gzip: true}, true)
		if err != nil {
			return r, nil, err
		}
		body := r.body
		if r.header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return r, nil, fmt.Errorf("gzip: %w", err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				return r, nil, fmt.Errorf("gzip: %w", err)
			}
		}
		return r, body, nil
	}
	want, wantBody, err := get(gm)
	if err != nil {
		return "answer not compared: gophermart: " + err.Error()
	}
	got, gotBody, err := get(floor)
	if err != nil {
		return "answer not compared: floor: " + err.Error()
	}
	return compareBodies(want.status, got.status, want.header.Get("Content-Encoding"), got.header.Get("Content-Encoding"),
		wantBody, gotBody)
}

// compareBodies describes how the floor's answer compares with gophermart's.
func compareBodies(wantStatus, gotStatus int, wantEnc, gotEnc string, want, got []byte) string {
	switch {
	case wantStatus != gotStatus:
		return fmt.Sprintf("ANSWER DIFFERS from gophermart's: status %d, gophermart %d", gotStatus, wantStatus)
	case wantEnc != gotEnc:
		return fmt.Sprintf("ANSWER DIFFERS from gophermart's: Content-Encoding %q, gophermart %q", gotEnc, wantEnc)
	case bytes.Equal(want, got):
		return fmt.Sprintf("answer byte-identical to gophermart's (%d bytes of JSON, Content-Encoding %q)", len(got), gotEnc)
	}
	var w, g any
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(got, &g) != nil || !reflect.DeepEqual(w, g) {
		return fmt.Sprintf("ANSWER DIFFERS from gophermart's: %.200s, gophermart %.200s", got, want)
	}
	return "answer equal to gophermart's as JSON, not byte for byte"
}
