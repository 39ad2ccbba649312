package scsi

import "context"

// Handler executes one command whose CDB the Table has checked: it is at
// least the operation's length and its control byte is acceptable.
type Handler func(ctx context.Context, cmd *Command) error

// Op describes one operation (or service action) of a command set.
type Op struct {
	Name string
	// Len is the CDB length; 0 takes the length from the opcode's group.
	Len int
	// Alloc locates the allocation length; the Table trims DataIn to it.
	// The zero Field means the command has no allocation length.
	Alloc Field
	// Usage is the CDB usage data REPORT SUPPORTED OPERATION CODES
	// reports (the opcode, then a mask of the bits used per byte); nil
	// reports every bit of every byte but the control byte as used.
	Usage []byte
	Run   Handler
}

// entry is a registered opcode: one Op, or Ops by service action.
type entry struct {
	op  *Op
	sas map[uint16]*Op
}

// Table is a Device that dispatches by operation code (and service
// action), checks what every command shares, and trims DataIn to the
// allocation length, so that handlers may return all the data they have.
// Register everything before the first Execute; Execute is then safe for
// concurrent use.
type Table struct {
	ops [256]entry
}

var _ Device = (*Table)(nil)

// Register sets (or replaces) the Op for an operation code.
func (t *Table) Register(opcode byte, op Op) {
	t.ops[opcode] = entry{op: &op}
}

// RegisterServiceAction sets (or replaces) the Op for one service action
// of an operation code, e.g. MAINTENANCE IN / REPORT SUPPORTED OPERATION
// CODES.
func (t *Table) RegisterServiceAction(opcode byte, sa uint16, op Op) {
	e := &t.ops[opcode]
	if e.sas == nil {
		e.op, e.sas = nil, map[uint16]*Op{}
	}
	e.sas[sa] = &op
}

// Lookup returns the Op a CDB selects.
func (t *Table) Lookup(cdb []byte) (Op, bool) {
	op, err := t.lookup(cdb)
	if err != nil {
		return Op{}, false
	}
	return *op, true
}

// lookup finds the Op for a CDB or returns the sense for an unknown
// operation code or service action.
func (t *Table) lookup(cdb []byte) (*Op, error) {
	if len(cdb) == 0 {
		return nil, InvalidOpcode()
	}
	e := &t.ops[cdb[0]]
	switch {
	case e.op != nil && e.op.Run != nil:
		return e.op, nil
	case e.op != nil || e.sas == nil:
		return nil, InvalidOpcode()
	}
	if op, ok := e.sas[ServiceAction(cdb)]; ok && op.Run != nil {
		return op, nil
	}
	if cdb[0] == OpVariableLength {
		return nil, InvalidFieldInCDB(8, 7)
	}
	return nil, InvalidFieldInCDB(1, 4)
}

// Execute runs the command's handler and trims DataIn to the allocation
// length. It answers ILLEGAL REQUEST itself for an unknown operation code
// or service action, a CDB shorter than the operation's length, and a
// control byte with NACA or LINK set (ferry supports neither).
func (t *Table) Execute(ctx context.Context, cmd *Command) error {
	op, err := t.lookup(cmd.CDB)
	if err != nil {
		return err
	}
	if err := checkCDB(cmd.CDB, op); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err = op.Run(ctx, cmd)
	if op.Alloc.Size > 0 {
		if n := op.Alloc.Get(cmd.CDB); uint64(len(cmd.DataIn)) > uint64(n) {
			cmd.DataIn = cmd.DataIn[:n]
		}
	}
	return err
}

// checkCDB checks the CDB's length and control byte.
func checkCDB(cdb []byte, op *Op) error {
	n := op.Len
	if n == 0 {
		n = CDBLength(cdb[0])
	}
	if cdb[0] == OpVariableLength {
		if len(cdb) < 8 || len(cdb) < 8+int(cdb[7]) {
			return InvalidFieldInCDB(7, -1)
		}
		return checkControl(cdb, 1)
	}
	if n == 0 || len(cdb) < n {
		return InvalidFieldInCDB(0, -1)
	}
	return checkControl(cdb, n-1)
}

// checkControl refuses the NACA and LINK bits of the control byte.
func checkControl(cdb []byte, i int) error {
	switch {
	case cdb[i]&0x04 != 0:
		return InvalidFieldInCDB(i, 2)
	case cdb[i]&0x01 != 0:
		return InvalidFieldInCDB(i, 0)
	}
	return nil
}
