import AdminAPI
import Foundation
import NIOCore
import Zone

/// An answer that carries a plan (`/v1/plan`, `/v1/apply`, `/v1/rollback`).
protocol CarriesPlan: Encodable {
    var planChanges: [ZonePlan.Change] { get set }
}

extension SavedPlan: CarriesPlan {
    var planChanges: [ZonePlan.Change] {
        get { plan.changes }
        set { plan.changes = newValue }
    }
}

extension ApplyResponse: CarriesPlan {
    var planChanges: [ZonePlan.Change] {
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
    private let changes: [ZonePlan.Change]
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
                var part = ByteBuffer()
                part.reserveCapacity(json.partSize + 1024)
                var index = start
                while index < changes.count, part.writerIndex < json.partSize {
                    if index > 0 { part.writeStaticString(",") }
                    PlanChangeJSON.write(changes[index], into: &part)
                    index += 1
                }
                step = index < changes.count ? .changes(from: index) : .tail
                return part
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
/// out, strings escaped as Foundation escapes them (`"`, `\`, and control characters; `/`
/// and everything past ASCII as they are).
enum PlanChangeJSON {
    static func write(_ change: ZonePlan.Change, into buffer: inout ByteBuffer) {
        member(#"{"action":"#, change.action.rawValue, into: &buffer)
        buffer.writeStaticString(#","fields":["#)
        for (i, field) in change.fields.enumerated() {
            member(i == 0 ? #"{"field":"# : #",{"field":"#, field.field, into: &buffer)
            member(#","new":"#, field.new, into: &buffer)
            member(#","old":"#, field.old, into: &buffer)
            buffer.writeStaticString("}")
        }
        member(#"],"key":"#, change.key, into: &buffer)
        member(#","kind":"#, change.kind, into: &buffer)
        member(#","name":"#, change.name, into: &buffer)
        member(#","pod":"#, change.pod, into: &buffer)
        member(#","port":"#, change.port, into: &buffer)
        member(#","switch":"#, change.switch, into: &buffer)
        buffer.writeStaticString("}")
    }

    /// `prefix` (the punctuation before it and the key) and the value; nothing when it is absent.
    private static func member(_ prefix: StaticString, _ value: String?, into buffer: inout ByteBuffer) {
        guard let value else { return }
        buffer.writeStaticString(prefix)
        string(value, into: &buffer)
    }

    /// A JSON string: runs that need no escape are copied whole.
    static func string(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\"")
        var text = text
        text.withUTF8 { bytes in
            var run = 0
            for i in bytes.indices {
                let byte = bytes[i]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[run..<i])))
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString(#"\""#)
                case UInt8(ascii: "\\"): buffer.writeStaticString(#"\\"#)
                case 0x08: buffer.writeStaticString(#"\b"#)
                case 0x09: buffer.writeStaticString(#"\t"#)
                case 0x0A: buffer.writeStaticString(#"\n"#)
                case 0x0C: buffer.writeStaticString(#"\f"#)
                case 0x0D: buffer.writeStaticString(#"\r"#)
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString(#"\u00"#)
                    buffer.writeInteger(hex[Int(byte >> 4)])
                    buffer.writeInteger(hex[Int(byte & 0xF)])
                }
                run = i + 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[run...])))
        }
        buffer.writeStaticString("\"")
    }
}
