import ArgumentParser
import FlowStoreCore

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every object's hash and every ref's audit chain.",
        discussion: """
            Re-hashes and decodes every object, checks the links between objects, and walks \
            every ref's event chain. Prints "ok: …" and exits 0 on a sound store; otherwise \
            prints every problem (the object id or ref name, and what is wrong) and exits 1.

            --json prints {ok, objects, refs, events, problems: [{subject, message}]}.

            Example:
              flowstore verify
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    func run() async throws {
        let store = try store.open()
        let report = try store.verify()
        let console = Console.current
        let counts = "\(report.objectsChecked) objects, \(report.refsChecked) refs, \(report.eventsChecked) events"
        if json.enabled {
            console.printJSON([
                "ok": .bool(report.isClean), "objects": .int(report.objectsChecked), "refs": .int(report.refsChecked),
                "events": .int(report.eventsChecked),
                "problems": .array(report.problems.map { ["subject": .string($0.subject), "message": .string($0.message)] }),
            ])
        } else if report.isClean {
            console.print("ok: \(counts) verified")
        } else {
            for problem in report.problems {
                console.print("\(TextStyle.paint("problem", .red)): \(TextStyle.safe(problem.description))")
            }
            let noun = report.problems.count == 1 ? "problem" : "problems"
            console.print("\(report.problems.count) \(noun) found in \(counts)")
        }
        if !report.isClean { throw ExitCode(ExitStatus.failure) }
    }
}
