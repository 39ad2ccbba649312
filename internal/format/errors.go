package format

import "errors"

var (
	// ErrHeader reports a malformed, hostile or unsupported header; errors from the
	// Reader wrap it with details.
	ErrHeader = errors.New("format: invalid header")
	// ErrEntry reports an Entry the Writer cannot represent (bad name, type, size, map).
	ErrEntry = errors.New("format: invalid entry")
	// ErrWriteTooLong reports data beyond the entry's declared data size.
	ErrWriteTooLong = errors.New("format: write too long")
	// ErrShortWrite reports an entry whose data was not complete when the next header
	// or Close came.
	ErrShortWrite = errors.New("format: entry data incomplete")
	// ErrClosed reports use of a closed Writer.
	ErrClosed = errors.New("format: writer closed")
	// ErrUnsafeName reports a name CleanName refuses: absolute, with "..", empty or with NUL.
	ErrUnsafeName = errors.New("format: unsafe name")
)
