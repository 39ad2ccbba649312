// Package interop holds end-to-end checks of ferry's NDMP agent against
// outside tools that judge it: Wireshark's NDMP dissector (tshark) decoding a
// captured session. It has no code outside its tests.
package interop
