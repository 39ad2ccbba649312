package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ImageFileCatalog is where the files of an image backup's file system lie
// in the image on tape (their names are in the file history, with Node the
// file's inode number).
type ImageFileCatalog interface {
	// AddImageFiles records files of image backup backupID (a node's again
	// replaces it).
	AddImageFiles(ctx context.Context, backupID int64, files []ImageFile) error
	// ImageFile returns one file's runs, or ErrNotFound.
	ImageFile(ctx context.Context, backupID int64, node uint64) (ImageFile, error)
}

// ImageFile is one file (inode) of an image backup.
type ImageFile struct {
	Node uint64
	// Runs are the file's data in the image, in file order; bytes no run
	// covers (holes, preallocated blocks) are zeros.
	Runs []ImageRun
	// Inline is a symlink's target, or the data of a file kept in its inode.
	Inline []byte
}

// ImageRun is Length bytes of a file from FileOffset, stored in the image
// from byte RecordOffset of its record Record (0: the image's first) and
// on through the records that follow.
type ImageRun struct {
	FileOffset   int64
	Length       int64
	Record       int64
	RecordOffset int64
}

// FormatImageRuns and ParseImageRuns are the runs column:
// "FILEOFF+LEN@RECORD:RECOFF", comma-separated.
func FormatImageRuns(runs []ImageRun) string {
	var b strings.Builder
	for i, r := range runs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d+%d@%d:%d", r.FileOffset, r.Length, r.Record, r.RecordOffset)
	}
	return b.String()
}

// ErrBadImageRuns means a runs column does not parse.
var ErrBadImageRuns = errors.New("catalog: bad image runs")

func ParseImageRuns(s string) ([]ImageRun, error) {
	if s == "" {
		return nil, nil
	}
	var out []ImageRun
	for _, f := range strings.Split(s, ",") {
		a, rest, ok1 := strings.Cut(f, "+")
		l, rest, ok2 := strings.Cut(rest, "@")
		rec, roff, ok3 := strings.Cut(rest, ":")
		var r ImageRun
		var errs [4]error
		r.FileOffset, errs[0] = strconv.ParseInt(a, 10, 64)
		r.Length, errs[1] = strconv.ParseInt(l, 10, 64)
		r.Record, errs[2] = strconv.ParseInt(rec, 10, 64)
		r.RecordOffset, errs[3] = strconv.ParseInt(roff, 10, 64)
		if !ok1 || !ok2 || !ok3 || errors.Join(errs[:]...) != nil || r.FileOffset < 0 || r.Length <= 0 ||
			r.Record < 0 || r.RecordOffset < 0 || (len(out) > 0 && r.FileOffset < out[len(out)-1].FileOffset+out[len(out)-1].Length) {
			return nil, fmt.Errorf("%w: %q", ErrBadImageRuns, f)
		}
		out = append(out, r)
	}
	return out, nil
}

// imageFileRows caps the rows of one INSERT.
const imageFileRows = 200

// AddImageFiles implements Catalog.
func (c *sqlCatalog) AddImageFiles(ctx context.Context, backupID int64, files []ImageFile) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var q strings.Builder
	for len(files) > 0 {
		n := min(len(files), imageFileRows)
		q.Reset()
		q.WriteString(`INSERT INTO image_files (backup_id, node, runs, inline) VALUES `)
		args := make([]any, 0, 4*n)
		for i, f := range files[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?)")
			args = append(args, backupID, int64(f.Node), FormatImageRuns(f.Runs), append([]byte{}, f.Inline...))
		}
		q.WriteString(` ON CONFLICT (backup_id, node) DO UPDATE SET runs = excluded.runs, inline = excluded.inline`)
		if _, err := tx.ExecContext(ctx, c.q(q.String()), args...); err != nil {
			return fmt.Errorf("catalog: image files of backup %d: %w", backupID, err)
		}
		files = files[n:]
	}
	return tx.Commit()
}

// ImageFile implements Catalog.
func (c *sqlCatalog) ImageFile(ctx context.Context, backupID int64, node uint64) (ImageFile, error) {
	f := ImageFile{Node: node}
	var runs string
	err := c.db.QueryRowContext(ctx, c.q(`SELECT runs, inline FROM image_files WHERE backup_id = ? AND node = ?`),
		backupID, int64(node)).Scan(&runs, &f.Inline)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("%w: file %d of image backup %d", ErrNotFound, node, backupID)
	}
	if err != nil {
		return f, fmt.Errorf("catalog: file %d of image backup %d: %w", node, backupID, err)
	}
	f.Runs, err = ParseImageRuns(runs)
	return f, err
}
