// libFuzzer entry point, compiled into the DHCPv4 module's sources (fuzz/build.sh).
// Any bytes as a packet socket's IPv4 packet: parsing never traps, and a frame that
// parses serializes into a packet (no IP options, fresh checksums) that parses back equal.

@_cdecl("LLVMFuzzerTestOneInput")
public func udpFrameFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let frame = try? UDPFrame(parsing: bytes) else { return 0 }
    let wire = frame.serialized()
    fuzzRequire(UDPFrame.checksum(wire[0..<20]) == 0, "serialized IPv4 header checksum is wrong")
    switch Result(catching: { () throws(UDPFrame.ParseError) in try UDPFrame(parsing: wire) }) {
    case .success(let again):
        fuzzRequire(again == frame, "serialize then parse gave another frame:\n\(frame)\n\(again)")
    case .failure(let error):
        fuzzRequire(false, "serialized frame does not parse: \(error)")
    }
    // Direct mode hands the payload to the DHCP codec: that path must be total too.
    _ = try? DHCPMessage(parsing: frame.payload)
    return 0
}
