import Addressing

/// Where a machine is plugged in: the only thing that decides who it is.
public struct Location: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var pod: String
    public var `switch`: String
    public var port: String

    public init(pod: String, switch: String, port: String) {
        self.pod = pod
        self.switch = `switch`
        self.port = port
    }

    public var description: String { "\(pod)/\(`switch`)/\(port)" }

    public static func < (a: Location, b: Location) -> Bool {
        (a.pod, a.switch) != (b.pod, b.switch)
            ? (a.pod, a.switch) < (b.pod, b.switch)
            : PortOrder.less(a.port, b.port)
    }
}

/// Orders port names as people read them: `swp2` before `swp10`.
enum PortOrder {
    static func less(_ a: String, _ b: String) -> Bool {
        // Most comparisons are between ports of one switch (`swp7`, `swp12`): when the names
        // share an ASCII prefix byte for byte, only the numbers are compared, without reading
        // the names as Characters. (ASCII only: a non-ASCII character before the digits may
        // join the first of them into one Character, which `split` does not count.)
        let (da, db) = (asciiDigitSuffix(a), asciiDigitSuffix(b))
        let prefix = a.utf8.dropLast(da.count)
        if prefix.allSatisfy({ $0 < 0x80 }), prefix.elementsEqual(b.utf8.dropLast(db.count)) {
            let (na, nb) = (da.value, db.value)
            if na != nb { return (na ?? -1) < (nb ?? -1) }
            return a < b
        }
        let (pa, na) = split(a), (pb, nb) = split(b)
        if pa != pb { return pa < pb }
        if na != nb { return (na ?? -1) < (nb ?? -1) }
        return a < b
    }

    /// The ASCII digits a name ends with (as `split` counts them) and their value (nil where
    /// `split` gives none: no digits, or ten or more).
    private static func asciiDigitSuffix(_ s: String) -> (count: Int, value: Int?) {
        var count = 0, value = 0, scale = 1
        for byte in s.utf8.reversed() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            count += 1
            if count < 10 {
                value += Int(byte - UInt8(ascii: "0")) * scale
                scale *= 10
            }
        }
        return (count, count > 0 && count < 10 ? value : nil)
    }

    private static func split(_ s: String) -> (Substring, Int?) {
        let digits = s.reversed().prefix(while: { $0.isASCII && $0.isNumber }).count
        return (s.dropLast(digits), digits > 0 && digits < 10 ? Int(s.suffix(digits)) : nil)
    }
}

/// What a location is: fully expanded when the zone loads, so answering a request
/// is a lookup and never a computation.
public struct Identity: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// A server, hypervisor, storage node: anything booted on a host port.
        case host
        /// A baseboard management controller (iLO, iDRAC) on a `lom` port.
        case bmc
        /// A switch's own management port (`device:` in the zone).
        case `switch`
    }

    public var kind: Kind
    public var name: String
    public var fqdn: String
    public var location: Location
    public var address: IPv4Address
    public var network: String
    public var subnet: IPv4Network
    public var gateway: IPv4Address?
    public var role: String
    public var profile: String?
    public var rack: Int?
    public var unit: Int?
    /// For a BMC: the name of the host it manages.
    public var managedHost: String?
    /// For a switch: its name in the zone's `switches:` list.
    public var device: String?

    public var netmask: IPv4Address { subnet.netmask }

    public init(kind: Kind, name: String, fqdn: String, location: Location, address: IPv4Address,
                network: String, subnet: IPv4Network, gateway: IPv4Address?, role: String,
                profile: String?, rack: Int?, unit: Int?, managedHost: String? = nil, device: String? = nil) {
        self.kind = kind
        self.name = name
        self.fqdn = fqdn
        self.location = location
        self.address = address
        self.network = network
        self.subnet = subnet
        self.gateway = gateway
        self.role = role
        self.profile = profile
        self.rack = rack
        self.unit = unit
        self.managedHost = managedHost
        self.device = device
    }
}
