package target

import "ferry/internal/scsi"

// PortDesignators returns the VPD page 0x83 designators an iSCSI target
// adds to each logical unit's own (SPC-4 7.8.6): the relative target port
// (1), the target port name ("IQN,t,0x0001", the portal group ferry
// reports) and the target device name (the IQN). Put them in a device's
// scsi.Inquiry.Designators before it serves its first command.
func PortDesignators(targetName string) []scsi.Designator {
	const iscsiProto = 5
	port := scsi.SCSINameDesignator(targetName+",t,0x0001", 1)
	port.Protocol, port.PIV = iscsiProto, true
	dev := scsi.SCSINameDesignator(targetName, 2)
	dev.Protocol, dev.PIV = iscsiProto, true
	rel := scsi.Designator{Protocol: iscsiProto, PIV: true, CodeSet: 1, Association: 1, Type: 4,
		Value: []byte{0, 0, 0, 1}}
	return []scsi.Designator{rel, port, dev}
}
