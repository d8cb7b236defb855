/// A length of time as the zone writes it: `90s`, `10m`, `12h`, `7d`.
public struct Duration: Sendable, Hashable, Codable, CustomStringConvertible {
    public var seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    public init?(_ text: some StringProtocol) {
        guard let unit = text.last, let count = Int(text.dropLast()), count > 0,
              text.dropLast().allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let scale: Int
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        case "d": scale = 86400
        default: return nil
        }
        let (product, overflow) = count.multipliedReportingOverflow(by: scale)
        // DHCP carries lease times in 32 bits.
        guard !overflow, product < Int(UInt32.max) else { return nil }
        seconds = product
    }

    /// `12h`, `90s`; a length no single unit writes exactly reads `10h30m`.
    public var description: String {
        var rest = seconds, out = ""
        for (scale, unit) in [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")] where rest >= scale {
            out += "\(rest / scale)\(unit)"
            rest %= scale
        }
        return out.isEmpty ? "0s" : out
    }
}
