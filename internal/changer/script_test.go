package changer

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestScripts runs the state machine scripts in testdata/script. Each line
// is a command; the lines after it that start with "> " are its expected
// output. Commands:
//
//	layout DRIVES SLOTS IE    new changer; DRIVES is a comma list or "-"
//	place ADDR BARCODE        BARCODE "-" for an unlabelled cartridge
//	remove ADDR
//	move SRC DST
//	exchange SRC DST1 DST2
//	prevent on|off
//	show                      full elements: ADDR BARCODE [src=ADDR]
//	roundtrip                 marshal and unmarshal the state
//
// A command prints "ok" or the name of the error it returned.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/script/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

// scriptStep is one command and the output it must produce.
type scriptStep struct {
	line int
	cmd  string
	want []string
}

func runScript(t *testing.T, path string) {
	steps := readScript(t, path)
	var c *Changer
	for _, s := range steps {
		got := execScript(&c, strings.Fields(s.cmd))
		if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("%s:%d: %s\n got: %q\nwant: %q", path, s.line, s.cmd, got, s.want)
		}
	}
}

func readScript(t *testing.T, path string) []scriptStep {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []scriptStep
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, ">"):
			if len(steps) == 0 {
				t.Fatalf("%s:%d: output before any command", path, n)
			}
			last := &steps[len(steps)-1]
			last.want = append(last.want, strings.TrimSpace(strings.TrimPrefix(line, ">")))
		default:
			steps = append(steps, scriptStep{line: n, cmd: line})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

// execScript runs one command on *c and returns its output lines.
func execScript(c **Changer, args []string) []string {
	if args[0] == "layout" {
		*c = New(Layout{Drives: splitDrives(args[1]), Slots: atoi(args[2]), ImportExport: atoi(args[3])})
		return []string{"ok"}
	}
	if *c == nil {
		return []string{"no layout"}
	}
	switch args[0] {
	case "show":
		return show(*c)
	case "roundtrip":
		return []string{result(roundTrip(c))}
	}
	return []string{result(mutate(*c, args))}
}

// mutate runs a command that changes the changer.
func mutate(c *Changer, args []string) error {
	switch args[0] {
	case "place":
		b := args[2]
		if b == "-" {
			b = ""
		}
		return c.Place(addr(args[1]), b)
	case "remove":
		_, err := c.Remove(addr(args[1]))
		return err
	case "move":
		return c.Move(addr(args[1]), addr(args[2]))
	case "exchange":
		return c.Exchange(addr(args[1]), addr(args[2]), addr(args[3]))
	case "prevent":
		c.SetPreventRemoval(args[1] == "on")
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// roundTrip replaces *c by what its own state document reads back as.
func roundTrip(c **Changer) error {
	b, err := (*c).MarshalJSON()
	if err != nil {
		return err
	}
	var n Changer
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	*c = &n
	return nil
}

// show lists the full elements.
func show(c *Changer) []string {
	var out []string
	for _, e := range c.Elements() {
		if !e.Full {
			continue
		}
		b := e.Barcode
		if b == "" {
			b = "-"
		}
		line := fmt.Sprintf("%#04x %s", e.Address, b)
		if e.HasSource {
			line += fmt.Sprintf(" src=%#04x", e.Source)
		}
		out = append(out, line)
	}
	if c.PreventRemoval() {
		out = append(out, "prevent")
	}
	return out
}

// result names an error by its sentinel.
func result(err error) string {
	for _, s := range []error{ErrInvalidAddress, ErrSourceEmpty, ErrDestinationFull, ErrRemovalPrevented,
		ErrInvalidBarcode, ErrDuplicateBarcode, ErrBadState} {
		if errors.Is(err, s) {
			return strings.TrimPrefix(s.Error(), "changer: ")
		}
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func splitDrives(s string) []string {
	if s == "-" {
		return nil
	}
	return strings.Split(s, ",")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func addr(s string) uint16 {
	n, _ := strconv.ParseUint(s, 0, 16)
	return uint16(n)
}
