/// A line diff in the unified format operators read from `git diff` and `terraform plan`:
/// `---`/`+++` headers, `@@ -a,b +c,d @@` hunks with three lines of context.
enum UnifiedDiff {
    /// Above this many cells (lines × lines, after the common head and tail are set aside) the
    /// texts are shown as replaced whole: a plan stays quick whatever the templates hold.
    static let maximumCells = 4_000_000
    static let context = 3

    enum Edit: Equatable {
        case same(String), removed(String), added(String)

        var isSame: Bool { if case .same = self { true } else { false } }
        /// In the old text: kept or removed lines.
        var isOld: Bool { if case .added = self { false } else { true } }
        /// In the new text: kept or added lines.
        var isNew: Bool { if case .removed = self { false } else { true } }
    }

    /// The diff of `old` and `new`, empty when their lines are the same.
    static func lines(_ old: String, _ new: String, oldName: String, newName: String) -> [String] {
        let a = split(old), b = split(new)
        guard a != b else { return [] }
        return ["--- \(oldName)", "+++ \(newName)"] + hunks(edits(a, b))
    }

    private static func split(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The edits turning `a` into `b`: common head and tail kept, the middle by longest common subsequence.
    static func edits(_ a: [String], _ b: [String]) -> [Edit] {
        var head = 0
        while head < a.count, head < b.count, a[head] == b[head] { head += 1 }
        var tail = 0
        while tail < a.count - head, tail < b.count - head, a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
        let midA = Array(a[head..<(a.count - tail)]), midB = Array(b[head..<(b.count - tail)])
        return a[..<head].map(Edit.same) + middle(midA, midB) + a[(a.count - tail)...].map(Edit.same)
    }

    private static func middle(_ a: [String], _ b: [String]) -> [Edit] {
        guard !a.isEmpty, !b.isEmpty, a.count * b.count <= maximumCells else {
            return a.map(Edit.removed) + b.map(Edit.added)
        }
        // lengths[i][j]: the longest common subsequence of a[i...] and b[j...].
        let width = b.count + 1
        var lengths = [Int](repeating: 0, count: (a.count + 1) * width)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lengths[i * width + j] = a[i] == b[j] ? lengths[(i + 1) * width + j + 1] + 1
                    : max(lengths[(i + 1) * width + j], lengths[i * width + j + 1])
            }
        }
        var edits: [Edit] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                edits.append(.same(a[i])); i += 1; j += 1
            } else if j < b.count, i == a.count || lengths[i * width + j + 1] >= lengths[(i + 1) * width + j] {
                edits.append(.added(b[j])); j += 1
            } else {
                edits.append(.removed(a[i])); i += 1
            }
        }
        // Removals before additions within a run of changes, as `diff -u` prints them.
        return regroup(edits)
    }

    private static func regroup(_ edits: [Edit]) -> [Edit] {
        var result: [Edit] = [], removed: [Edit] = [], added: [Edit] = []
        func flush() { result += removed + added; removed = []; added = [] }
        for edit in edits {
            switch edit {
            case .same: flush(); result.append(edit)
            case .removed: removed.append(edit)
            case .added: added.append(edit)
            }
        }
        flush()
        return result
    }

    /// Hunks of changes with `context` lines around each, close ones merged.
    static func hunks(_ edits: [Edit]) -> [String] {
        let changed = edits.indices.filter { !edits[$0].isSame }
        guard let first = changed.first else { return [] }
        var ranges: [ClosedRange<Int>] = []
        var start = max(0, first - context), end = min(edits.count - 1, first + context)
        for index in changed.dropFirst() {
            if index - context <= end + 1 {
                end = min(edits.count - 1, index + context)
            } else {
                ranges.append(start...end)
                start = max(0, index - context)
                end = min(edits.count - 1, index + context)
            }
        }
        ranges.append(start...end)
        // Line numbers at the start of each edit, in the old and the new text.
        var oldLine = [Int](), newLine = [Int]()
        var o = 1, n = 1
        for edit in edits {
            oldLine.append(o); newLine.append(n)
            switch edit {
            case .same: o += 1; n += 1
            case .removed: o += 1
            case .added: n += 1
            }
        }
        var lines: [String] = []
        for range in ranges {
            let slice = edits[range]
            let oldCount = slice.count(where: \.isOld)
            let newCount = slice.count(where: \.isNew)
            // An empty side starts at the line before, as `diff -u` numbers it.
            let oldStart = oldCount == 0 ? oldLine[range.lowerBound] - 1 : oldLine[range.lowerBound]
            let newStart = newCount == 0 ? newLine[range.lowerBound] - 1 : newLine[range.lowerBound]
            lines.append("@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@")
            for edit in slice {
                switch edit {
                case .same(let text): lines.append(" " + text)
                case .removed(let text): lines.append("-" + text)
                case .added(let text): lines.append("+" + text)
                }
            }
        }
        return lines
    }
}
