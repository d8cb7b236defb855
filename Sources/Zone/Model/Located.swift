import Addressing

/// A value from the zone file together with where it was written, so that later
/// checks (collisions, references) can point at both sides.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var at: SourcePosition
    /// Key path in the document, e.g. `pods[0].networks.servers.subnet`.
    public var path: String

    public init(_ value: Value, at: SourcePosition, path: String) {
        self.value = value
        self.at = at
        self.path = path
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}
