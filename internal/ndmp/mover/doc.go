// Package mover is the NDMP mover: the state machine of spec §3.6 that copies a
// backup stream between a data connection and a tape drive.
//
// One Mover belongs to one NDMP session. The session goroutine calls its request
// methods (SetRecordSize, SetWindow, Listen, Connect, Read, Continue, Close,
// Abort, Stop, GetState) one at a time; each returns nil or a wire.Error fit for
// the session's protocol version. The copy runs in a goroutine the Mover starts
// at LISTEN/CONNECT and waits for at STOP or Shutdown. It posts
// NOTIFY_MOVER_PAUSED and NOTIFY_MOVER_HALTED through Config.Notify.
//
// States and transitions (docs/ndmp-mover.md has the full table):
//
//	IDLE --LISTEN--> LISTEN --peer connects--> ACTIVE
//	IDLE --CONNECT--> ACTIVE
//	ACTIVE --EOW/EOM/EOF/SEEK (v3: media error)--> PAUSED --CONTINUE--> ACTIVE
//	LISTEN/ACTIVE/PAUSED --ABORT, CLOSE, connection closed, error--> HALTED
//	HALTED --STOP--> IDLE
//
// Mode READ reads the data connection and writes tape (backup); mode WRITE reads
// tape and writes the data connection (recover). Every tape record the mover
// writes is exactly the record size: the final partial record of a stream is
// padded with zero bytes (bytes_moved counts only the stream bytes).
package mover
