// Package arch holds the test that enforces ferry's layering rules (see
// DESIGN.md): which packages may import which. It has no code of its own.
package arch
