extension ZonePlan {
    /// A plan's changes in the plan's order: the settings' first, then the identities' by
    /// location.
    ///
    /// A plan made between two loaded revisions keeps its identity changes as positions in the
    /// two revisions' identities, and writes each change when it is read. Written out, the
    /// 200,000 changes of a full-zone apply of 100,000 hosts were about 100 MB (a change, its
    /// fields and its key: some 400 B each) held beside both revisions at the apply's peak; the
    /// positions are 1.6 MB, and the identities they point into are held anyway. A decoded plan
    /// (zonectl reading a server's answer) holds its changes written out.
    public struct Changes: RandomAccessCollection, Sendable, Equatable, Codable, ExpressibleByArrayLiteral {
        /// Written out: all of a decoded plan's, or a made plan's settings.
        private let written: [Change]
        /// The identity changes after `written`, by position.
        private let identities: IdentityPositions?

        /// Where an identity differs between the two sides: its position in each (-1 where it
        /// is absent: added, or removed).
        struct Position: Sendable {
            let before: Int32
            let after: Int32
        }

        struct IdentityPositions: Sendable {
            let before: [Identity]
            let after: [Identity]
            let positions: [Position]
        }

        init(written: [Change], identities: IdentityPositions? = nil) {
            self.written = written
            self.identities = identities.flatMap { $0.positions.isEmpty ? nil : $0 }
        }

        public init(_ changes: [Change]) { self.init(written: changes) }

        public init(arrayLiteral changes: Change...) { self.init(written: changes) }

        public var startIndex: Int { 0 }
        public var endIndex: Int { written.count + (identities?.positions.count ?? 0) }

        public subscript(index: Int) -> Change {
            if index < written.count { return written[index] }
            guard let identities else { preconditionFailure("plan change \(index) of \(count)") }
            let position = identities.positions[index - written.count]
            let a = position.before < 0 ? nil : identities.before[Int(position.before)]
            let b = position.after < 0 ? nil : identities.after[Int(position.after)]
            if let a, let b {
                // Changed in place: only the fields that differ are written.
                return Change(action: .change, kind: b.kind.rawValue, key: b.location.description, name: b.name,
                              pod: b.location.pod, switch: b.location.switch, port: b.location.port,
                              fields: PlanResources.identityChanges(from: a, to: b))
            }
            // One side only: added or removed, never nil.
            return ZonePlan.change((b ?? a)!.location.description,
                                   from: a.map(PlanResources.identity), to: b.map(PlanResources.identity))!
        }

        /// How many are added, changed and removed, counted without writing a change.
        var summary: Summary {
            var summary = Summary()
            for change in written {
                switch change.action {
                case .add: summary.add += 1
                case .change: summary.change += 1
                case .remove: summary.remove += 1
                }
            }
            for position in identities?.positions ?? [] {
                switch (position.before < 0, position.after < 0) {
                case (true, _): summary.add += 1
                case (_, true): summary.remove += 1
                default: summary.change += 1
                }
            }
            return summary
        }

        /// The setting changes (every change before the identities'), without the identities'.
        var settings: [Change] { identities == nil ? written.filter { !$0.isIdentity } : written }

        public static func == (lhs: Changes, rhs: Changes) -> Bool {
            lhs.count == rhs.count && lhs.elementsEqual(rhs)
        }

        public init(from decoder: any Decoder) throws {
            self.init(written: try [Change](from: decoder))
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.unkeyedContainer()
            for change in self { try container.encode(change) }
        }
    }
}
