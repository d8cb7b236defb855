// libFuzzer entry point, compiled into the DHCPv4 module's sources (fuzz/build.sh).
// Any bytes: parsing never traps, and a message that parses serializes into bytes that
// parse back to the same message, at the default size and at the size its option 57 asks
// (the size the server answers with), so overloading and RFC 3396 splitting are covered.

@_cdecl("LLVMFuzzerTestOneInput")
public func dhcpMessageFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let message = try? DHCPMessage(parsing: bytes) else { return 0 }
    let sizes = [548, (message.options.maximumMessageSize ?? 576) - 28]
    for maximumSize in sizes {
        let wire = message.serialized(maximumSize: maximumSize)
        fuzzRequire(wire.count >= DHCPMessage.minimumLength, "serialized \(wire.count) bytes, below the BOOTP minimum")
        switch Result(catching: { () throws(DHCPParseError) in try DHCPMessage(parsing: wire) }) {
        case .success(let again):
            fuzzRequire(again == message, "serialize(maximumSize: \(maximumSize)) then parse gave another message:\n"
                        + "\(message)\n\(again)")
        case .failure(let error):
            fuzzRequire(false, "serialize(maximumSize: \(maximumSize)) gave bytes that do not parse: \(error)")
        }
    }
    // The typed views the server reads: each must be total on any option data.
    let options = message.options
    _ = (options.messageType, options.requestedAddress, options.serverIdentifier, options.parameterRequestList,
         options.vendorClass, options.clientIdentifier, options.userClasses, options.clientMachineID,
         options.ipxeEncapsulated, options.vendorIdentifyingOptions?.serialized,
         options.vendorIdentifyingClasses?.texts.count, message.hardwareAddress)
    return 0
}
