import Foundation
import TestSupport
import Testing
@testable import Zone

/// The repository root (TestSupport's), under the name these tests use.
let repoRoot = repositoryRoot

/// The example zone's text, the base that most tests edit.
let exampleZoneText: String = {
    (try? String(contentsOfFile: "\(repoRoot)/zones/ams1.yaml", encoding: .utf8)) ?? ""
}()

/// Loads zone text as if it were `zones/<name>` on disk, so templates and hooks of the
/// example zone are found the way an operator's file finds them.
func loadZone(_ text: String, name: String = "ams1.yaml") -> Result<ZoneRevision, ZoneLoadError> {
    do {
        return .success(try ZoneLoader.load(ZoneSource(zoneFile: name, text: text),
                                            files: DiskFiles(folder: "\(repoRoot)/zones")))
    } catch {
        return .failure(error)
    }
}

/// The example zone with each `old` replaced once by `new`; a replacement that does
/// not apply fails the test, so edits cannot silently rot.
func editedExample(_ edits: [(String, String)], sourceLocation: SourceLocation = #_sourceLocation) -> String {
    var text = exampleZoneText
    for (old, new) in edits {
        guard let range = text.range(of: old) else {
            Issue.record("edit does not apply: \(old)", sourceLocation: sourceLocation)
            continue
        }
        text.replaceSubrange(range, with: new)
    }
    return text
}

/// Diagnostics as an operator sees them, with machine-specific paths removed.
func renderedErrors(_ result: Result<ZoneRevision, ZoneLoadError>) -> String {
    guard case .failure(let error) = result else { return "(no errors)\n" }
    return error.description.replacingOccurrences(of: "\(repoRoot)/zones/", with: "")
}

/// Compares text with a golden file under Tests/ZoneTests/Golden; with
/// ZONEBOOT_UPDATE_GOLDEN=1 in the environment it writes the file instead.
func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let path = "\(repoRoot)/Tests/ZoneTests/Golden/\(name)"
    if ProcessInfo.processInfo.environment["ZONEBOOT_UPDATE_GOLDEN"] == "1" {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        try? actual.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
        Issue.record("missing golden file \(name); run with ZONEBOOT_UPDATE_GOLDEN=1", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "differs from Golden/\(name)", sourceLocation: sourceLocation)
}

/// The plan from `base` (revision 7) to the example zone with `edits` and templates replaced.
func examplePlan(from base: ZoneRevision, _ edits: [(String, String)], templates: [String: String] = [:],
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> ZonePlan {
    var next = try loadZone(editedExample(edits, sourceLocation: sourceLocation)).get()
    if !templates.isEmpty {
        var source = next.source
        for (path, text) in templates { source.files[path] = text }
        next = try ZoneLoader.load(source: source)
    }
    return ZonePlan(from: base, fromRevision: 7, to: next)
}

/// A plan as `zonectl plan ams1.yaml` prints it against revision 7.
func planText(_ plan: ZonePlan) -> String {
    PlanRenderer(color: false).render(plan, source: "ams1.yaml", against: "revision 7")
}
