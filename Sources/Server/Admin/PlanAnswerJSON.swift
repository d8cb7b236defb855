import AdminAPI
import Boot
import Foundation
import NIOCore
import Zone

/// An answer that carries a plan (`/v1/plan`, `/v1/apply`, `/v1/rollback`).
protocol CarriesPlan: Encodable {
    var planChanges: ZonePlan.Changes { get set }
}

extension SavedPlan: CarriesPlan {
    var planChanges: ZonePlan.Changes {
        get { plan.changes }
        set { plan.changes = newValue }
    }
}

extension ApplyResponse: CarriesPlan {
    var planChanges: ZonePlan.Changes {
        get { plan.plan.changes }
        set { plan.plan.changes = newValue }
    }
}

/// The JSON of a plan answer, byte for byte what `JSONStyle`'s encoder writes for it, in
/// parts of about `partSize` bytes, each written only when it is asked for.
///
/// Foundation's encoder builds a tree of the whole value before it writes a byte, and spent
/// 10 s of CPU on the 200,000 changes of a full-zone apply of 100,000 hosts; the answer, 100 MB
/// in one buffer, then outlived the plan. Here the answer without its changes is encoded once,
/// and the changes are written between its `"changes":[` and `]` by `PlanChangeJSON`, a part at
/// a time, as the connection takes them.
struct PlanAnswerJSON: Sendable {
    /// The answer up to its changes' `[` included, and from their `]` on.
    private let head: ByteBuffer
    private let tail: ByteBuffer
    private let changes: ZonePlan.Changes
    let partSize: Int

    /// Nil when the answer cannot be encoded.
    init?(_ answer: some CarriesPlan, partSize: Int = 256 * 1024) {
        self.partSize = max(partSize, 1)
        let encoder = JSONStyle.encoder()
        var shell = answer
        let changes = shell.planChanges
        shell.planChanges = []
        guard let outer = try? encoder.encode(shell) else { return nil }
        let marker = Data(#""changes":[]"#.utf8)
        // The key is written once (a JSON string holds no bare quote); were it not, the whole
        // answer is encoded at once, in one part.
        guard let at = outer.range(of: marker), outer[at.upperBound...].range(of: marker) == nil else {
            guard let whole = try? encoder.encode(answer) else { return nil }
            (head, tail, self.changes) = (ByteBuffer(bytes: whole), ByteBuffer(), [])
            return
        }
        self.changes = changes
        head = ByteBuffer(bytes: outer[..<(at.upperBound - 1)])  // through the `[`
        tail = ByteBuffer(bytes: outer[(at.upperBound - 1)...])  // the `]` and the rest
    }

    /// The parts in order: the head, the changes a part at a time, the tail.
    var parts: Parts { Parts(json: self) }

    /// The whole answer in one buffer (tests, and small answers).
    var whole: ByteBuffer {
        var buffer = ByteBuffer()
        for part in parts { buffer.writeImmutableBuffer(part) }
        return buffer
    }

    struct Parts: Sequence, IteratorProtocol {
        private enum Step { case head, changes(from: Int), tail, done }
        fileprivate let json: PlanAnswerJSON
        private var step = Step.head

        fileprivate init(json: PlanAnswerJSON) { self.json = json }

        mutating func next() -> ByteBuffer? {
            let changes = json.changes
            switch step {
            case .head:
                step = changes.isEmpty ? .tail : .changes(from: 0)
                return json.head
            case .changes(let start):
                var part = JSONWriter(reservingCapacity: json.partSize + 1024)
                var index = start
                while index < changes.count, part.bytes.count < json.partSize {
                    if index > 0 { part.raw(",") }
                    PlanChangeJSON.write(changes[index], into: &part)
                    index += 1
                }
                step = index < changes.count ? .changes(from: index) : .tail
                return ByteBuffer(bytes: part.bytes)
            case .tail:
                step = .done
                return json.tail
            case .done:
                return nil
            }
        }
    }
}

/// A plan change as `JSONStyle`'s encoder writes it: keys sorted, an absent optional left
/// out, strings escaped as Foundation escapes them (`JSONWriter`).
enum PlanChangeJSON {
    static func write(_ change: ZonePlan.Change, into out: inout JSONWriter) {
        member(#"{"action":"#, change.action.rawValue, into: &out)
        out.raw(#","fields":["#)
        for (i, field) in change.fields.enumerated() {
            member(i == 0 ? #"{"field":"# : #",{"field":"#, field.field, into: &out)
            member(#","new":"#, field.new, into: &out)
            member(#","old":"#, field.old, into: &out)
            out.raw("}")
        }
        member(#"],"key":"#, change.key, into: &out)
        member(#","kind":"#, change.kind, into: &out)
        member(#","name":"#, change.name, into: &out)
        member(#","pod":"#, change.pod, into: &out)
        member(#","port":"#, change.port, into: &out)
        member(#","switch":"#, change.switch, into: &out)
        out.raw("}")
    }

    /// `prefix` (the punctuation before it and the key) and the value; nothing when it is absent.
    private static func member(_ prefix: StaticString, _ value: String?, into out: inout JSONWriter) {
        guard let value else { return }
        out.raw(prefix)
        out.string(value)
    }
}
