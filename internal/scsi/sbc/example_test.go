package sbc_test

import (
	"context"
	"fmt"
	"os"

	"ferry/internal/disk"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
)

// A disk from the state directory served as a logical unit: what the
// iSCSI target's unit set does for each disk, here with one READ
// CAPACITY(10).
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "disks")
	defer os.RemoveAll(dir)
	if _, err := disk.Create(dir, "vol1", 64<<20, disk.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	dk, err := disk.Open(dir, "vol1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dk.Close()
	dev := sbc.New(dk, sbc.Identity{})
	cmd := &scsi.Command{CDB: []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Initiator: "iqn.2026-11.example:host,i,0x400000000001"}
	err = dev.Execute(context.Background(), cmd)
	fmt.Printf("% x %v\n", cmd.DataIn, err)
	// Output: 00 01 ff ff 00 00 02 00 <nil>
}
