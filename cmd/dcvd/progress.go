package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dcvd/dcvd/store"
)

// progress shows a live one-line summary on a terminal while `run` works,
// and stays out of the way otherwise (logs then carry one line per state
// change). Log lines written while the line is shown clear it first.
type progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	state map[int64]store.State
	shown bool
	done  chan struct{}
	wg    sync.WaitGroup
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, state: map[int64]store.State{}}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// onChange is the engine's OnChange hook: change on a terminal, nil
// otherwise (nothing is drawn, and a run over 100,000 rows need not keep
// a state per row).
func (p *progress) onChange() func(store.Challenge) {
	if !p.tty {
		return nil
	}
	return p.change
}

// change records a state change.
func (p *progress) change(c store.Challenge) {
	p.mu.Lock()
	p.state[c.ID] = c.State
	p.mu.Unlock()
}

func (p *progress) start() {
	if !p.tty {
		return
	}
	p.done = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
}

func (p *progress) stop() {
	if p.done == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	p.clearLocked()
	p.mu.Unlock()
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := map[store.State]int{}
	for _, s := range p.state {
		counts[s]++
	}
	var parts []string
	for _, s := range summaryOrder {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
		}
	}
	if len(parts) == 0 {
		parts = []string{"discovering"}
	}
	fmt.Fprintf(p.w, "\r\033[K%s", strings.Join(parts, " · "))
	p.shown = true
}

func (p *progress) clearLocked() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// logWriter returns the writer logs should go to.
func (p *progress) logWriter() io.Writer {
	if !p.tty {
		return p.w
	}
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.clearLocked()
		return p.w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// minLogLevel keeps info lines (one per state change) off a terminal, where
// the live line shows progress; logs to a file or journal keep them.
func (p *progress) minLogLevel() string {
	if p.tty {
		return "warn"
	}
	return ""
}
