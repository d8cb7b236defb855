// libFuzzer entry point, compiled into the Zone module's sources (fuzz/build.sh).
// Any bytes as a zone file: decoding the text, parsing the YAML, checking the shape,
// decoding, expanding and reading templates never trap; a zone that does not load
// renders its diagnostics (quoting the lines they point at) without trapping either, and
// a zone that loads finds each of its identities by location and by name.
import Foundation

/// Every template a fuzzed zone names exists and parses (with documented variables only),
/// so zones that name templates still get past loading to a revision; every `secret-file`
/// holds a secret; hook programs count as present, nothing is a symlink.
private struct FuzzFiles: ZoneFileAccess {
    func read(_ path: String) -> Result<String, ZoneFileProblem> { .success("#!ipxe\nchain {{boot_url}}/{{name}}\n") }
    func readSecret(_ path: String) -> Result<[UInt8], ZoneFileProblem>? { .success(Array("fuzz-secret\n".utf8)) }
    func executable(_ path: String) -> ExecutableStatus { .unknown }
    func displayName(_ path: String) -> String { path }
    func escape(_ path: String) -> String? { nil }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func zoneLoaderFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(fuzzBytes(data, size))
    do {
        let text = try ZoneLoader.decodeText(bytes, file: "fuzz.yaml")
        let revision = try ZoneLoader.load(ZoneSource(zoneFile: "fuzz.yaml", text: text), files: FuzzFiles())
        _ = DiagnosticRenderer(sources: ["fuzz.yaml": text]).render(revision.warnings)
        // What the DHCP path looks up per request must find each identity the zone expanded to.
        for identity in revision.identities {
            fuzzRequire(revision.identity(at: identity.location)?.location == identity.location,
                        "identity at \(identity.location) not found by its location")
            fuzzRequire(revision.identity(named: identity.name)?.name == identity.name,
                        "identity \(identity.name) not found by its name")
        }
    } catch {
        _ = error.description
    }
    return 0
}
