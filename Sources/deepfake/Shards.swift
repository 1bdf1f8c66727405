import ArgumentParser
import D3
import DeepfakeCore
import Detection
import Foundation
import Imaging
import WebDataset

struct Shards: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, verify and read WebDataset shards (D3 records).",
        discussion: """
            SPEC is a shard, a brace pattern ('d3/elsa_v2-{0000..0491}.tar'), a .shards list file (names relative \
            to the list's folder, as upstream's), an http(s) URL (streamed) or - for standard input.
            Shards also work as inputs to embed, detect and evaluate; their rows name images SHARD#KEY.FIELD.
            """,
        subcommands: [Create.self, List.self, Verify.self, Cat.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write D3 records ({id}_gen0..3.*, {id}_real.*, {id}_prompt.txt, {id}_url.txt) as shards.",
            discussion: """
                Samples are keyed elsa_v2__{split}__{id} with fields caption.txt, gen_0..gen_3.{ext}, \
                real.{ext}, url.txt, as upstream's wds_creation writes them, but images keep their bytes (no \
                re-encoding) and what is left out is listed instead of silently skipped. Shards are named \
                {prefix}-NNNNNN.tar and written atomically.

                Only regular files under --from are read; symbolic links are followed when they stay inside \
                --from (--follow-symlinks follows the others). Incomplete records and every name passed over \
                (links leaving --from, broken links, link loops, names that are not UTF-8, FIFOs and devices, \
                ids that cannot be keys) are listed with the reason in incomplete.txt, and the exit status is 1.

                A non-empty --out is refused unless --resume (keep the shards an interrupted run completed and \
                go on: the result is that of an uninterrupted run) or --overwrite (remove this prefix's shards \
                and incomplete.txt, nothing else, then write) is given.

                Example: deepfake shards create --from data_d3/ --out shards/ --per-shard 5000 --split train
                """)
        @Option(help: "Folder holding the D3 download (any depth).") var from: String
        @Option(help: "Output folder.") var out: String
        @Option(help: "Records per shard.") var perShard: Int = 5000
        @Option(help: "Split name used in the keys.") var split: String = "train"
        @Option(help: "Key and file-name prefix.") var prefix: String = "elsa_v2"
        @Flag(help: "Follow symbolic links that lead outside --from.") var followSymlinks = false
        @Flag(help: "Continue an interrupted run in --out.") var resume = false
        @Flag(help: "Replace this prefix's shards and incomplete.txt in --out.") var overwrite = false
        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            if perShard < 1 { throw ValidationError("--per-shard must be at least 1") }
            if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        }

        func run() throws {
            var options = D3ShardOptions(source: from, output: out)
            options.perShard = perShard; options.split = split; options.prefix = prefix
            options.followSymlinks = followSymlinks
            options.existing = resume ? .resume : overwrite ? .overwrite : .refuse
            var progress: ProgressBar?
            let summary: D3ShardSummary
            do throws(D3ShardsError) {
                summary = try createD3Shards(options) { done, total in
                    if progress == nil { progress = ProgressBar(total: total, label: "shards", unit: "records") }
                    progress!.advance()
                }
            } catch {
                progress?.finish()
                if error.isUsageError { throw ValidationError(error.description) }
                printError("error: \(error)")
                throw ExitCode(1)
            }
            progress?.finish()
            let kept = summary.keptShards > 0 ? "kept \(summary.keptShards) shards of the interrupted run; " : ""
            print(kept + "\(summary.records) records in \(summary.shards.count) shards in \(out)")
            if let report = summary.report {
                printError("\(summary.problems.count) records or names left out; listed in \(report)")
                throw ExitCode(1)
            }
            if summary.records == 0 {
                printError("error: no D3 record found in \(from) ({id}_gen0..3.*, {id}_real.*, {id}_prompt.txt, {id}_url.txt)")
                throw ExitCode(1)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls",
            abstract: "One line per sample: shard, key and each field's size in bytes.",
            discussion: """
                Exit status 1 when a spec or shard cannot be read (each is reported; the others go on). Examples:
                  deepfake shards ls --format jsonl 'd3/elsa_v2-{0000..0009}.tar'
                  deepfake shards ls train/a.tar train/b.tar val.shards
                """)
        enum Format: String, ExpressibleByArgument { case table, jsonl }
        @Option(help: "table or jsonl.") var format: Format = .table
        @Argument(help: "Shard specs: paths, brace patterns, .shards lists, http(s) URLs.") var specs: [String]
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            var failed = false
            forEachSample(specs) { result in
                switch result {
                case let .success(s):
                    if format == .jsonl {
                        let fields = s.fields.map { "\(JSONText.string($0.name)): \($0.bytes.count)" }.joined(separator: ", ")
                        print("{\"shard\": \(JSONText.string(s.shard)), \"key\": \(JSONText.string(s.key)), \"fields\": {\(fields)}}")
                    } else {
                        print("\(s.shard)  \(s.key)  " + s.fields.map { "\($0.name)=\($0.bytes.count)" }.joined(separator: " "))
                    }
                case let .failure(e):
                    failed = true
                    printError("error: \(e)")
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode every image of every sample; report failures with shard, key and field.",
            discussion: """
                Exit status 1 when any image, shard or spec fails (each is reported; the others go on). Examples:
                  deepfake shards verify d3/train.shards
                  deepfake shards verify 'd3/elsa_v2-{0000..0009}.tar' extra/elsa_v2-0100.tar
                """)
        @Argument(help: "Shard specs: paths, brace patterns, .shards lists, http(s) URLs.") var specs: [String]
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            var samples = 0, images = 0, failures = 0
            forEachSample(specs) { result in
                switch result {
                case let .success(s):
                    samples += 1
                    for field in s.fields where FieldKind(field: field.name) == .image {
                        images += 1
                        do {
                            _ = try decodeImage(field.bytes, name: "\(s.shard)#\(s.key).\(field.name)")
                        } catch {
                            failures += 1
                            print("FAIL \(s.shard) \(s.key) \(field.name): \(error)")
                        }
                    }
                case let .failure(e):
                    failures += 1
                    print("FAIL \(e)")
                }
            }
            print("\(samples) samples, \(images) images, \(failures) failures")
            if failures > 0 { throw ExitCode(1) }
        }
    }

    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one member's bytes to standard output.",
            discussion: "Example: deepfake shards cat d3/elsa_v2-0000.tar elsa_v2__train__1275001022128 real.jpg > real.jpg")
        @Argument(help: "Shard spec.") var spec: String
        @Argument(help: "Sample key.") var key: String
        @Argument(help: "Field name, e.g. gen_0.jpg.") var field: String
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            var sample: Sample?
            forEachSample([spec]) { result in
                if case let .failure(e) = result { printError("error: \(e)") }
                if sample == nil, case let .success(s) = result, s.key == key { sample = s }
            }
            guard let sample else {
                printError("error: no sample \(key) in \(spec)")
                throw ExitCode(1)
            }
            guard let bytes = sample[field: field] else {
                printError("error: sample \(key) has no field \(field) (it has: \(sample.fields.map(\.name).joined(separator: ", ")))")
                throw ExitCode(1)
            }
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}

/// Every sample of every shard of `specs`, in order. A spec that does not resolve and a shard that fails each
/// yield their error, and the next goes on.
func forEachSample(_ specs: [String], _ body: (Result<Sample, WebDatasetError>) -> Void) {
    let source = TarShardSource(options: ShardReadOptions(errorPolicy: .stop))
    for spec in specs {
        let shards: [String]
        do { shards = try ShardSpec.resolve(spec) } catch {
            body(.failure(error))
            continue
        }
        for shard in shards {
            for result in AnySequence({ source.samples(of: shard) }) { body(result) }
        }
    }
}
