// libFuzzer entry point, compiled into the TFTP module's sources (fuzz/build.sh).
// Any bytes as a TFTP datagram: parsing never traps, a packet that parses serializes
// into bytes that parse back equal; a read request's file name and options go through
// what the server does next (path normalization, option negotiation), whose OACK must
// round-trip too and whose granted values stay in their RFC ranges.

@_cdecl("LLVMFuzzerTestOneInput")
public func tftpPacketFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let packet = try? TFTPPacket(parsing: bytes) else { return 0 }
    requireRoundTrip(packet)
    if case .readRequest(let request) = packet {
        _ = TFTPPath.normalize(request.filename)
        let negotiation = TFTPNegotiation(options: request.options, fileSize: UInt64(bytes.count) << 20)
        fuzzRequire((TFTPNegotiation.minimumBlockSize...TFTPNegotiation.largestBlockSize).contains(negotiation.blockSize),
                    "granted block size \(negotiation.blockSize) is out of range")
        fuzzRequire((1...65535).contains(negotiation.windowSize), "granted window \(negotiation.windowSize) is out of range")
        fuzzRequire(negotiation.timeoutMilliseconds >= 1, "granted timeout \(negotiation.timeoutMilliseconds) ms")
        fuzzRequire(negotiation.acknowledged.count + negotiation.ignored.count == request.options.count,
                    "options neither granted nor ignored")
        if !negotiation.acknowledged.isEmpty { requireRoundTrip(.optionAcknowledgement(negotiation.acknowledged)) }
    }
    return 0
}

private func requireRoundTrip(_ packet: TFTPPacket) {
    switch Result(catching: { () throws(TFTPParseError) in try TFTPPacket(parsing: packet.serialized()) }) {
    case .success(let again):
        fuzzRequire(again == packet, "serialize then parse gave another packet:\n\(packet)\n\(again)")
    case .failure(let error):
        fuzzRequire(false, "serialized packet does not parse: \(error)")
    }
}
