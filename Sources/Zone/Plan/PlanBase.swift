/// The revision a plan compares against, as the plan reads it: its settings (spec and
/// template texts) and its identities in location order.
///
/// A stored revision (`zonectl plan --state`) is loaded for a plan by `load(source:reusing:)`,
/// at a cost in proportion to what changed: a pod whose text is the same in both zone files,
/// under the same zone-wide naming and roles, has the same identities in both, so the new
/// revision's are reused and only the other pods of the stored zone are expanded. A one-host
/// change to 100,000 hosts expands one pod of 250.
public struct PlanBase: Sendable {
    let spec: ZoneSpec
    let files: [String: String]
    let identities: [Identity]

    /// A revision already loaded (a server's running revision).
    public init(_ revision: ZoneRevision) {
        spec = revision.spec
        files = revision.source.files
        identities = revision.identities
    }

    init(spec: ZoneSpec, files: [String: String], identities: [Identity]) {
        self.spec = spec
        self.files = files
        self.identities = identities
    }

    /// A stored revision's source loaded for a plan against `next`. What it cannot decode
    /// or expand on its own (it loaded when stored, so this is rare) is loaded whole, and
    /// reported as `ZoneLoader.load(source:)` reports it.
    public static func load(source: ZoneSource, reusing next: ZoneRevision) throws(ZoneLoadError) -> PlanBase {
        guard let spec = ZoneLoader.decodedSpec(of: source),
              let identities = Self.identities(of: spec, text: source.text, reusing: next) else {
            return PlanBase(try ZoneLoader.load(source: source))
        }
        return PlanBase(spec: spec, files: source.files, identities: identities)
    }

    /// The identities of `spec`: those of its pods that `PodText` finds unchanged taken from
    /// `next`, the others expanded. Nil when the expansion reports an error.
    static func identities(of spec: ZoneSpec, text: String, reusing next: ZoneRevision) -> [Identity]? {
        let reusable = PodText.sameNaming(spec, next.spec)
            ? PodText.unchangedPods(old: spec.pods, oldText: text, new: next.spec.pods, newText: next.source.text) : []
        var changed = spec
        changed.pods = spec.pods.filter { !reusable.contains($0.name.value) }
        var expander = ZoneExpander(spec: changed)
        var identities = expander.expand()
        guard !expander.diagnostics.contains(where: { $0.severity == .error }) else { return nil }
        guard !reusable.isEmpty else { return identities }
        // A pod's identities are one run of the new revision's, which is in location order.
        var start = 0
        let kept = next.identities
        for i in kept.indices where i + 1 == kept.count || kept[i + 1].location.pod != kept[i].location.pod {
            if reusable.contains(kept[i].location.pod) { identities += kept[start...i] }
            start = i + 1
        }
        return ZoneRevision.sortedByLocation(identities)
    }
}

/// Which pods read the same in two zone files. A pod's text is the lines from its entry in
/// `pods:` to the next pod's (the last one's to the end of the file); a pod is unchanged
/// where that text lies in the part both files begin with, or in the part both end with,
/// at the same place in the other file. A file with an anchor is never compared this way
/// (an alias in a pod reads text from elsewhere), nor pods written on one line.
enum PodText {
    /// The zone-wide inputs of every identity: names (zone, domain, naming templates) and
    /// each role's boot profile.
    static func sameNaming(_ a: ZoneSpec, _ b: ZoneSpec) -> Bool {
        func boots(_ spec: ZoneSpec) -> [String: String?] {
            Dictionary(spec.roles.map { ($0.name.value, $0.boot?.value) }, uniquingKeysWith: { first, _ in first })
        }
        return a.zone.value == b.zone.value && a.domain.value == b.domain.value
            && a.naming.host.value.text == b.naming.host.value.text && a.naming.lom.value.text == b.naming.lom.value.text
            && a.naming.switch.value.text == b.naming.switch.value.text && boots(a) == boots(b)
    }

    /// The names of the pods of `old` whose text is the same in `newText`.
    static func unchangedPods(old: [ZoneSpec.Pod], oldText: String, new: [ZoneSpec.Pod], newText: String) -> Set<String> {
        let (a, b) = (Array(oldText.utf8), Array(newText.utf8))
        guard !a.contains(UInt8(ascii: "&")), !b.contains(UInt8(ascii: "&")),
              let oldSpans = spans(old, a), let newSpans = spans(new, b) else { return [] }
        let limit = min(a.count, b.count)
        var prefix = 0
        while prefix < limit, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < limit - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let shift = a.count - b.count
        var unchanged: Set<String> = []
        for (name, span) in newSpans {
            guard let before = oldSpans[name] else { continue }
            if span.upperBound <= prefix, before == span {
                unchanged.insert(name)
            } else if span.lowerBound >= b.count - suffix,
                      before == (span.lowerBound + shift)..<(span.upperBound + shift) {
                unchanged.insert(name)
            }
        }
        return unchanged
    }

    /// Each pod's text as a range of bytes, by name; nil when a pod has no position, two
    /// start on one line, or a name is used twice.
    static func spans(_ pods: [ZoneSpec.Pod], _ text: [UInt8]) -> [String: Range<Int>]? {
        var lineStarts = [0]
        for (i, byte) in text.enumerated() where byte == UInt8(ascii: "\n") { lineStarts.append(i + 1) }
        var starts: [Int] = []
        for pod in pods {
            guard let line = pod.at?.line, line >= 1, line <= lineStarts.count,
                  starts.last.map({ lineStarts[line - 1] > $0 }) ?? true else { return nil }
            starts.append(lineStarts[line - 1])
        }
        var spans: [String: Range<Int>] = [:]
        for (i, pod) in pods.enumerated() {
            let end = i + 1 < starts.count ? starts[i + 1] : text.count
            guard spans.updateValue(starts[i]..<end, forKey: pod.name.value) == nil else { return nil }
        }
        return spans
    }
}
