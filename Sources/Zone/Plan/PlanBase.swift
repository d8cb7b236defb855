/// The revision a plan compares against, as the plan reads it: its settings (spec and
/// template texts) and its identities in location order.
///
/// A stored revision (`zonectl plan --state`) is loaded for a plan by `load(source:reusing:)`,
/// at a cost in proportion to what changed: a pod whose text is the same in both zone files,
/// under the same zone-wide naming and roles, has the same identities in both, so only the
/// other pods of the stored zone are expanded, and the plan compares only theirs. A one-host
/// change to 100,000 hosts expands and compares one pod of 250.
public struct PlanBase: Sendable {
    let spec: ZoneSpec
    let files: [String: String]
    /// In location order: the identities of every pod but `samePods`.
    let identities: [Identity]
    /// The pods whose identities are those of the revision planned against this base (their
    /// text is the same in both): the plan does not compare them, one by one, with themselves.
    let samePods: Set<String>

    /// A revision already loaded (a server's running revision).
    public init(_ revision: ZoneRevision) {
        spec = revision.spec
        files = revision.source.files
        identities = revision.identities
        samePods = []
    }

    init(spec: ZoneSpec, files: [String: String], identities: [Identity], samePods: Set<String>) {
        self.spec = spec
        self.files = files
        self.identities = identities
        self.samePods = samePods
    }

    /// A stored revision's source, decoded (not expanded): what a plan base needs before the
    /// new revision is known, so that it can be made on another core while that one loads.
    public struct Decoded: Sendable {
        let source: ZoneSource
        /// Nil when it does not decode on its own (then it is loaded whole).
        let spec: ZoneSpec?

        public init(_ source: ZoneSource) {
            self.source = source
            spec = ZoneLoader.decodedSpec(of: source)
        }
    }

    /// A stored revision's source loaded for a plan against `next`. What it cannot decode
    /// or expand on its own (it loaded when stored, so this is rare) is loaded whole, and
    /// reported as `ZoneLoader.load(source:)` reports it.
    public static func load(source: ZoneSource, reusing next: ZoneRevision) throws(ZoneLoadError) -> PlanBase {
        try load(Decoded(source), reusing: next)
    }

    public static func load(_ decoded: Decoded, reusing next: ZoneRevision) throws(ZoneLoadError) -> PlanBase {
        guard let spec = decoded.spec,
              let (identities, same) = Self.identities(of: spec, text: decoded.source.text, reusing: next) else {
            return PlanBase(try ZoneLoader.load(source: decoded.source))
        }
        return PlanBase(spec: spec, files: decoded.source.files, identities: identities, samePods: same)
    }

    /// The identities of the pods of `spec` that `PodText` does not find unchanged in `next`,
    /// expanded, and the names of those it does. Nil when the expansion reports an error.
    static func identities(of spec: ZoneSpec, text: String, reusing next: ZoneRevision)
        -> (identities: [Identity], same: Set<String>)? {
        let same = PodText.sameNaming(spec, next.spec)
            ? PodText.unchangedPods(old: spec.pods, oldText: text, new: next.spec.pods, newText: next.source.text) : []
        var changed = spec
        changed.pods = spec.pods.filter { !same.contains($0.name.value) }
        var expander = ZoneExpander(spec: changed)
        let identities = expander.expand()
        guard !expander.diagnostics.contains(where: { $0.severity == .error }) else { return nil }
        return (ZoneRevision.sortedByLocation(identities), same)
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
