/// A run of switch port names, `swp1-swp40` or a single `swp48`: a common prefix and
/// an inclusive number range. `Ethernet0-Ethernet47` and `eth1/1-eth1/48` work the same.
public struct PortRange: Sendable, Hashable, CustomStringConvertible {
    public var prefix: String
    public var numbers: ClosedRange<Int>?
    /// Zero padding of the numbers as written (`swp01-swp40` keeps two digits).
    public var width: Int

    public init(prefix: String, numbers: ClosedRange<Int>?, width: Int = 0) {
        self.prefix = prefix
        self.numbers = numbers
        self.width = width
    }

    public var names: [String] {
        guard let numbers else { return [prefix] }
        return numbers.map { prefix + String(paddedTo: width, $0) }
    }

    public var count: Int { numbers?.count ?? 1 }

    public var description: String {
        guard let numbers else { return prefix }
        if numbers.count == 1 { return names[0] }
        return "\(names.first!)-\(names.last!)"
    }
}

extension String {
    /// `n` in decimal, left-padded with zeros to `width` digits.
    init(paddedTo width: Int, _ n: Int) {
        let digits = String(n)
        self = digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension PortRange {
    public enum ParseProblem: Error {
        case empty, prefixesDiffer, descending, noNumber, tooLong

        public func message(_ text: String) -> String {
            switch self {
            case .empty: "needs a port name, found an empty string"
            case .prefixesDiffer: "'\(text)': both ends of a port range need the same name before the number (swp1-swp40)"
            case .descending: "'\(text)': a port range runs from low to high"
            case .noNumber: "'\(text)': a port range needs numbered ports at both ends (swp1-swp40)"
            case .tooLong: "'\(text)': a port range may hold at most 4096 ports"
            }
        }
    }

    /// `swp1-swp40`, `swp1-40`, `swp48`, `Ethernet0-Ethernet47`, `eth1/1-eth1/48`.
    public static func parse(_ text: String) -> Result<PortRange, ParseProblem> {
        guard !text.isEmpty, !text.contains(where: \.isWhitespace) else { return .failure(.empty) }
        func split(_ s: Substring) -> (prefix: Substring, digits: Substring) {
            let digits = s.reversed().prefix(while: { $0.isASCII && $0.isNumber }).count
            return (s.dropLast(digits), s.suffix(digits))
        }
        // A dash inside a name ("mgmt-1") is a name, not a range, unless the right side
        // is a port of the same family.
        if let dash = text.lastIndex(of: "-") {
            let left = split(text[..<dash]), rightText = text[text.index(after: dash)...]
            let right = split(rightText)
            let rightPrefix = right.prefix.isEmpty ? left.prefix : right.prefix
            if !left.digits.isEmpty, !right.digits.isEmpty, left.digits.count <= 9, right.digits.count <= 9,
               let low = Int(left.digits), let high = Int(right.digits) {
                guard rightPrefix == left.prefix else { return .failure(.prefixesDiffer) }
                guard low <= high else { return .failure(.descending) }
                guard high - low < 4096 else { return .failure(.tooLong) }
                let width = left.digits.first == "0" && left.digits.count > 1 ? left.digits.count : 0
                return .success(PortRange(prefix: String(left.prefix), numbers: low...high, width: width))
            }
            if !left.digits.isEmpty, right.digits.isEmpty, right.prefix == left.prefix { return .failure(.noNumber) }
        }
        let single = split(Substring(text))
        if !single.digits.isEmpty, single.digits.count <= 9, let n = Int(single.digits) {
            let width = single.digits.first == "0" && single.digits.count > 1 ? single.digits.count : 0
            return .success(PortRange(prefix: String(single.prefix), numbers: n...n, width: width))
        }
        return .success(PortRange(prefix: text, numbers: nil))
    }
}
