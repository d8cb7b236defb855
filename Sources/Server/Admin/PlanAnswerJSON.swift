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

/// The JSON of a plan answer, byte for byte what `JSONStyle`'s encoder writes for it,
/// with the plan's changes encoded a batch at a time.
///
/// Foundation's encoder builds a tree of the whole value before it writes a byte: for the
/// 200,000 changes of a full-zone apply of 100,000 hosts that tree took several hundred MB
/// on top of the two revisions, and the bytes were then copied once more into the answer.
/// Here the answer without its changes is encoded once, and the changes are written into
/// its `"changes":[]` one batch at a time, straight into the answer's buffer. Nil when the
/// answer cannot be encoded.
func planAnswerJSON(_ answer: some CarriesPlan, batch: Int = 4096) -> ByteBuffer? {
    let encoder = JSONStyle.encoder()
    var shell = answer
    let changes = shell.planChanges
    shell.planChanges = []
    guard let outer = try? encoder.encode(shell) else { return nil }
    let marker = Data(#""changes":[]"#.utf8)
    // The key is written once (a JSON string holds no bare quote); were it not, the whole
    // answer is encoded at once.
    guard let at = outer.range(of: marker), outer[at.upperBound...].range(of: marker) == nil else {
        return (try? encoder.encode(answer)).map { ByteBuffer(bytes: $0) }
    }
    var buffer = ByteBuffer()
    buffer.reserveCapacity(outer.count + changes.count * 256)
    buffer.writeBytes(outer[..<(at.upperBound - 1)])  // through the `[`
    var start = changes.startIndex
    while start < changes.endIndex {
        let end = min(start + max(batch, 1), changes.endIndex)
        guard let part = try? encoder.encode(Array(changes[start..<end])) else { return nil }
        if start > changes.startIndex { buffer.writeStaticString(",") }
        buffer.writeBytes(part.dropFirst().dropLast())  // the items, without the batch's `[` and `]`
        start = end
    }
    buffer.writeBytes(outer[(at.upperBound - 1)...])  // the `]` and the rest
    return buffer
}
