// libFuzzer entry point, compiled into the DHCPv4 module's sources (fuzz/build.sh).
// Any bytes as Option 82's data: parsing never traps, and what parses serializes back
// to data that parses to the same sub-options; every accessor the server reads is total.

@_cdecl("LLVMFuzzerTestOneInput")
public func relayAgentInformationFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let information = try? RelayAgentInformation(parsing: bytes) else { return 0 }
    // Parsing keeps sub-options byte for byte, so the option echoes exactly as received.
    fuzzRequire(information.serialized == bytes, "Option 82 does not echo byte for byte")
    switch Result(catching: { () throws(OptionDataError) in
        try RelayAgentInformation(parsing: information.serialized)
    }) {
    case .success(let again):
        fuzzRequire(again == information, "serialize then parse gave other sub-options:\n\(information)\n\(again)")
    case .failure(let error):
        fuzzRequire(false, "serialized Option 82 does not parse: \(error)")
    }
    _ = (information.circuitID, information.remoteID, information.linkSelection, information.subscriberID,
         information.serverIDOverride, information.relayID, information.asksForRelayPort, information.flags)
    return 0
}
