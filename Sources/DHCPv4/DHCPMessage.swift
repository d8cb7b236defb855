/// A DHCPv4 message (RFC 2131): the fixed BOOTP header and its options.
///
/// Options are held after RFC 3396 reassembly (each code once, its instances joined in
/// order) and after option overload (RFC 2132 §9.3) is undone, so `serverName` and
/// `bootFile` hold only what those fields really say. Serializing splits long options
/// and overloads again where the size limit needs it. For any message this model holds,
/// `try DHCPMessage(parsing: m.serialized()) == m`.
public struct DHCPMessage: Sendable, Hashable {
    public enum Op: UInt8, Sendable { case request = 1, reply = 2 }

    public var op: Op
    public var htype: UInt8
    public var hlen: UInt8
    public var hops: UInt8
    public var xid: UInt32
    public var secs: UInt16
    public var flags: UInt16
    public var ciaddr: UInt32
    public var yiaddr: UInt32
    public var siaddr: UInt32
    public var giaddr: UInt32
    /// All 16 bytes of chaddr; the hardware address is the first `hlen`.
    public var chaddr: [UInt8]
    /// sname without its trailing NULs (at most 64 bytes).
    public var serverName: [UInt8]
    /// file without its trailing NULs (at most 128 bytes).
    public var bootFile: [UInt8]
    public var options: DHCPOptions

    public static let headerLength = 236
    public static let magicCookie: UInt32 = 0x6382_5363
    /// Largest datagram accepted: bigger than any real DHCP message, small enough that
    /// a flood of them costs little.
    public static let maximumLength = 4096
    /// BOOTP's minimum message; some relays and old clients drop shorter ones.
    public static let minimumLength = 300

    public static let broadcastFlag: UInt16 = 0x8000

    public init(op: Op, htype: UInt8 = 1, hlen: UInt8 = 6, hops: UInt8 = 0, xid: UInt32, secs: UInt16 = 0,
                flags: UInt16 = 0, ciaddr: UInt32 = 0, yiaddr: UInt32 = 0, siaddr: UInt32 = 0, giaddr: UInt32 = 0,
                chaddr: [UInt8], serverName: [UInt8] = [], bootFile: [UInt8] = [], options: DHCPOptions = DHCPOptions()) {
        self.op = op
        self.htype = htype
        self.hlen = hlen
        self.hops = hops
        self.xid = xid
        self.secs = secs
        self.flags = flags
        self.ciaddr = ciaddr
        self.yiaddr = yiaddr
        self.siaddr = siaddr
        self.giaddr = giaddr
        self.chaddr = Array((chaddr + Array(repeating: 0, count: 16)).prefix(16))
        self.serverName = DHCPMessage.trimmed(Array(serverName.prefix(64)))
        self.bootFile = DHCPMessage.trimmed(Array(bootFile.prefix(128)))
        self.options = options
    }

    /// The client's hardware address: the first `hlen` bytes of chaddr.
    public var hardwareAddress: [UInt8] { Array(chaddr.prefix(Int(min(hlen, 16)))) }

    public var isBroadcast: Bool { flags & DHCPMessage.broadcastFlag != 0 }

    public var messageType: DHCPMessageType? { options.messageType }

    static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        while bytes.last == 0 { bytes.removeLast() }
        return bytes
    }
}

/// Why bytes are not a DHCP message. Each case is a counted drop reason.
public enum DHCPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Field: String, Sendable { case options, file, sname }

    case truncated(length: Int)
    case oversized(length: Int)
    case badOp(UInt8)
    case badHardwareLength(UInt8)
    case badMagicCookie(UInt32)
    /// An option's length runs past the end of the field it is in.
    case optionOverrun(code: UInt8, field: Field)
    /// Option 52 with a length other than 1 or a value other than 1, 2, 3.
    case badOverload
    /// Option 52 found inside an overloaded field: it may only appear in the options field.
    case overloadInOverloadedField(Field)

    /// A short stable name, used as a metrics label.
    public var reason: String {
        switch self {
        case .truncated: "truncated"
        case .oversized: "oversized"
        case .badOp: "bad-op"
        case .badHardwareLength: "bad-hlen"
        case .badMagicCookie: "bad-cookie"
        case .optionOverrun: "option-overrun"
        case .badOverload: "bad-overload"
        case .overloadInOverloadedField: "overload-loop"
        }
    }

    public var description: String {
        switch self {
        case .truncated(let n): "truncated: \(n) bytes, a DHCP message has at least 240"
        case .oversized(let n): "oversized: \(n) bytes, more than \(DHCPMessage.maximumLength)"
        case .badOp(let op): "op \(op) is neither BOOTREQUEST (1) nor BOOTREPLY (2)"
        case .badHardwareLength(let n): "hlen \(n) is longer than chaddr (16)"
        case .badMagicCookie(let c): "magic cookie 0x\(String(c, radix: 16)) is not 0x63825363"
        case .optionOverrun(let code, let field): "option \(code) runs past the end of the \(field.rawValue) field"
        case .badOverload: "option 52 (overload) is malformed"
        case .overloadInOverloadedField(let field): "option 52 (overload) inside the overloaded \(field.rawValue) field"
        }
    }
}

extension DHCPMessage {
    /// Parses a datagram. Total: any bytes give a message or a `DHCPParseError`.
    public init(parsing bytes: [UInt8]) throws(DHCPParseError) {
        guard bytes.count <= DHCPMessage.maximumLength else { throw .oversized(length: bytes.count) }
        var reader = ByteReader(bytes)
        guard bytes.count >= DHCPMessage.headerLength + 4,
              let opByte = reader.u8(), let htype = reader.u8(), let hlen = reader.u8(), let hops = reader.u8(),
              let xid = reader.u32(), let secs = reader.u16(), let flags = reader.u16(),
              let ciaddr = reader.u32(), let yiaddr = reader.u32(), let siaddr = reader.u32(), let giaddr = reader.u32(),
              let chaddr = reader.take(16), let sname = reader.take(64), let file = reader.take(128),
              let cookie = reader.u32()
        else { throw .truncated(length: bytes.count) }
        guard let op = Op(rawValue: opByte) else { throw .badOp(opByte) }
        guard hlen <= 16 else { throw .badHardwareLength(hlen) }
        guard cookie == DHCPMessage.magicCookie else { throw .badMagicCookie(cookie) }

        var collector = OptionCollector()
        let overload = try collector.read(bytes, from: reader.offset, to: bytes.count, field: .options, allowOverload: true)
        let fileStart = 108, snameStart = 44
        if overload & 1 != 0 {
            _ = try collector.read(bytes, from: fileStart, to: fileStart + 128, field: .file, allowOverload: false)
        }
        if overload & 2 != 0 {
            _ = try collector.read(bytes, from: snameStart, to: snameStart + 64, field: .sname, allowOverload: false)
        }
        self.init(op: op, htype: htype, hlen: hlen, hops: hops, xid: xid, secs: secs, flags: flags,
                  ciaddr: ciaddr, yiaddr: yiaddr, siaddr: siaddr, giaddr: giaddr, chaddr: chaddr,
                  serverName: overload & 2 != 0 ? [] : sname, bootFile: overload & 1 != 0 ? [] : file,
                  options: collector.options)
    }

    /// Gathers options from the fields in RFC 3396 order, joining repeated codes.
    private struct OptionCollector {
        var options = DHCPOptions()

        /// Reads one field; returns the overload value found (0 if none).
        mutating func read(_ bytes: [UInt8], from start: Int, to end: Int, field: DHCPParseError.Field,
                           allowOverload: Bool) throws(DHCPParseError) -> UInt8 {
            var reader = ByteReader(bytes, from: start, to: end)
            var overload: UInt8 = 0
            while let code = reader.u8() {
                if code == DHCPOptionCode.pad.rawValue { continue }
                if code == DHCPOptionCode.end.rawValue { break }
                // A field that ends without END is accepted: many clients and relays omit it.
                guard let length = reader.u8(), let data = reader.take(Int(length)) else {
                    throw .optionOverrun(code: code, field: field)
                }
                if code == DHCPOptionCode.overload.rawValue {
                    guard allowOverload else { throw .overloadInOverloadedField(field) }
                    guard data.count == 1, (1...3).contains(data[0]) else { throw .badOverload }
                    overload = data[0]
                    continue
                }
                options.join(code, data)
            }
            return overload
        }
    }

    /// The message as a datagram of at most `maximumSize` bytes where the options allow
    /// (a client's option 57, or 576 − 28 by default), splitting options over 255 bytes
    /// and overloading file and sname when the options field is full.
    public func serialized(maximumSize: Int = 548) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(DHCPMessage.minimumLength)
        out.append(op.rawValue)
        out.append(htype)
        out.append(hlen)
        out.append(hops)
        out.appendU32(xid)
        out.appendU16(secs)
        out.appendU16(flags)
        for address in [ciaddr, yiaddr, siaddr, giaddr] { out.appendU32(address) }
        out.append(contentsOf: chaddr)

        var optionsField: [UInt8] = []
        optionsField.reserveCapacity(options.encodedLength + 1)
        options.encode(into: &optionsField)
        optionsField.append(DHCPOptionCode.end.rawValue)
        var fileField = bootFile, snameField = serverName
        let room = maximumSize - DHCPMessage.headerLength - 4 - 1
        if optionsField.count - 1 > room {
            let encoded = options.encodedInstances()
            // Overload: options field first, then file, then sname (the order RFC 3396 joins them in).
            var capacities = [room - 3]
            var overload: UInt8 = 0
            if bootFile.isEmpty { capacities.append(127); overload |= 1 }
            if serverName.isEmpty { capacities.append(63); overload |= 2 }
            // Where even that cannot hold them, the whole options field goes out longer than asked.
            if overload != 0, let fields = DHCPMessage.pack(encoded, into: capacities) {
                optionsField = [DHCPOptionCode.overload.rawValue, 1, overload] + fields[0] + [DHCPOptionCode.end.rawValue]
                var next = 1
                if overload & 1 != 0 { fileField = fields[next] + [DHCPOptionCode.end.rawValue]; next += 1 }
                if overload & 2 != 0 { snameField = fields[next] + [DHCPOptionCode.end.rawValue] }
            }
        }
        out.append(contentsOf: snameField.prefix(64))
        out.append(contentsOf: Array(repeating: 0, count: 64 - min(64, snameField.count)))
        out.append(contentsOf: fileField.prefix(128))
        out.append(contentsOf: Array(repeating: 0, count: 128 - min(128, fileField.count)))
        out.appendU32(DHCPMessage.magicCookie)
        out.append(contentsOf: optionsField)
        if out.count < DHCPMessage.minimumLength {
            out.append(contentsOf: Array(repeating: DHCPOptionCode.pad.rawValue, count: DHCPMessage.minimumLength - out.count))
        }
        return out
    }

    /// Fills fields of the given capacities with encoded option instances in order,
    /// splitting an instance where a field ends; nil when they do not all fit.
    static func pack(_ instances: [[UInt8]], into capacities: [Int]) -> [[UInt8]]? {
        var fields = capacities.map { _ in [UInt8]() }
        var index = 0
        for instance in instances {
            var pending = instance
            while !pending.isEmpty {
                guard index < capacities.count else { return nil }
                let space = capacities[index] - fields[index].count
                if pending.count <= space {
                    fields[index] += pending
                    pending = []
                    continue
                }
                if space >= 3 {
                    let code = pending[0], data = pending.dropFirst(2)
                    let head = data.prefix(space - 2), rest = data.dropFirst(space - 2)
                    fields[index] += [code, UInt8(head.count)] + head
                    pending = [code, UInt8(rest.count)] + rest
                }
                index += 1
            }
        }
        return fields
    }
}
