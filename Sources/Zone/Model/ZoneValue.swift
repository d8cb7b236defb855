/// A YAML value that is handed through to Chef or Ansible as JSON, keeping its type.
public indirect enum ZoneValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ZoneValue])
    /// Keys in file order.
    case object([Member])
    /// Read from a file by reference (`{ secret-file: path }`): encoded, planned and listed
    /// as `SecretValue.redacted`, never as its content.
    case secret(SecretValue)

    public struct Member: Sendable, Hashable, Codable {
        public var key: String
        public var value: ZoneValue
        public init(_ key: String, _ value: ZoneValue) {
            self.key = key
            self.value = value
        }
    }

    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            self = .object(try keyed.allKeys.map { .init($0.stringValue, try keyed.decode(ZoneValue.self, forKey: $0)) })
            return
        }
        if var list = try? decoder.unkeyedContainer() {
            var items: [ZoneValue] = []
            while !list.isAtEnd { items.append(try list.decode(ZoneValue.self)) }
            self = .array(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let b = try? single.decode(Bool.self) { self = .bool(b) }
        else if let i = try? single.decode(Int.self) { self = .int(i) }
        else if let d = try? single.decode(Double.self) { self = .double(d) }
        else { self = .string(try single.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .double(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let members):
            var c = encoder.container(keyedBy: AnyKey.self)
            for member in members { try c.encode(member.value, forKey: AnyKey(member.key)) }
        case .secret(let secret):
            var c = encoder.singleValueContainer()
            try c.encode(secret.redacted)
        }
    }

    /// The value as a plain Foundation-free tree for template contexts; secrets redacted.
    public var plain: Any { plain(revealingSecrets: false) }

    /// The same, with secrets' content where `revealingSecrets` (a file served to the host itself).
    public func plain(revealingSecrets: Bool) -> Any {
        switch self {
        case .null: return Optional<String>.none as Any
        case .bool(let b): return b
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .array(let items): return items.map { $0.plain(revealingSecrets: revealingSecrets) }
        case .object(let members):
            var dict: [String: Any] = [:]
            for member in members { dict[member.key] = member.value.plain(revealingSecrets: revealingSecrets) }
            return dict
        case .secret(let secret): return revealingSecrets ? secret.value ?? secret.redacted : secret.redacted
        }
    }

    /// Every secret inside, in order.
    public var secrets: [SecretValue] {
        switch self {
        case .secret(let secret): [secret]
        case .array(let items): items.flatMap(\.secrets)
        case .object(let members): members.flatMap(\.value.secrets)
        case .null, .bool, .int, .double, .string: []
        }
    }

    /// The value with each secret replaced by `resolve`'s answer for it.
    public func resolvingSecrets(_ resolve: (SecretValue) -> SecretValue) -> ZoneValue {
        switch self {
        case .secret(let secret): .secret(resolve(secret))
        case .array(let items): .array(items.map { $0.resolvingSecrets(resolve) })
        case .object(let members): .object(members.map { .init($0.key, $0.value.resolvingSecrets(resolve)) })
        case .null, .bool, .int, .double, .string: self
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
