import ArgumentParser
import Foundation
import Logging
import Tensor

@main
struct Deepfake: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepfake",
        abstract: "CoDE deepfake detection in native Swift: tell real photos from diffusion-generated ones.",
        discussion: """
            Exit status: 0 success; 1 some inputs failed (each is reported in its own output row); \
            2 the model could not be loaded; 64 bad command-line usage.
            """,
        version: "0.1.0",
        subcommands: [Detect.self, Evaluate.self, Fit.self, Embed.self, Train.self, Shards.self],
        defaultSubcommand: nil)

    static func main() {
        if let problem = KernelISA.environmentProblem {
            printError("deepfake: \(problem)")
            Foundation.exit(64)
        }
        LoggingSystem.bootstrap(StderrLogHandler.init)
        main(nil)
    }
}
