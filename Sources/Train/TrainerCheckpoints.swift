// Trainer checkpoints: what a checkpoint holds (weights under Hugging Face
// names, AdamW moments, trainer_state.json with the run record), writing them
// atomically with rotation, and resuming from one.

import Formats
import Model

extension Trainer {
    /// The run's settings that must not change on resume.
    func runRecord() -> JSONValue {
        let o = options
        var fields: [(String, JSONValue)] = [
            ("learning_rate", .number(JSONNumber(o.learningRate))), ("weight_decay", .number(JSONNumber(o.weightDecay))),
            ("adam_beta1", .number(JSONNumber(o.adamBeta1))), ("adam_beta2", .number(JSONNumber(o.adamBeta2))),
            ("adam_epsilon", .number(JSONNumber(o.adamEpsilon))), ("scheduler", .string(o.scheduler.rawValue)),
            ("warmup_steps", .number(JSONNumber(schedule.warmupSteps))), ("total_steps", .number(JSONNumber(totalSteps))),
            ("batch_size", .number(JSONNumber(o.batchSize))),
            // Processes × micro-batches × sequences: another split of the same
            // global batch computes the same steps.
            ("global_batch", .number(JSONNumber(world.size * o.gradAccum * o.batchSize))),
            ("max_grad_norm", .number(JSONNumber(o.maxGradNorm))),
            ("dropout", .array([.number(JSONNumber(Double(dropout.hidden))), .number(JSONNumber(Double(dropout.attention)))])),
            ("seed", .number(JSONNumber(literal: String(o.seed)))), ("shuffle", .bool(o.shuffle)),
            ("train_examples", .number(JSONNumber(trainCount))), ("eval_examples", .number(JSONNumber(evalCount))),
            ("corpus_digest", .string(corpusDigest)),
            // Products are split by thread count and rounded by the kernel's
            // blocking: the same bits need the same count and kernel.
            ("threads", .number(JSONNumber(model.workerCount))),
            ("sgemm", .string(model.kernel.rawValue)),
        ]
        // fp32 is what runs recorded before precisions existed: absent means fp32.
        if model.precision != .fp32 { fields.append(("precision", .string(model.precision.rawValue))) }
        fields += objective.record
        if model.head != .maskedLM { fields.append(("classifier_dropout", .number(JSONNumber(Double(dropout.classifier))))) }
        // The bookkeeping that changes the run's course: the metric of the
        // plateau schedule and of early stopping.
        if o.scheduler == .plateau || o.earlyStopping != nil || cadence.keepBest {
            fields.append(("metric", .string(o.metric)))
            fields.append(("eval_steps", cadence.evalSteps.map { .number(JSONNumber($0)) } ?? .null))
        }
        if o.scheduler == .plateau {
            fields.append(("plateau_factor", .number(JSONNumber(o.plateauFactor))))
            fields.append(("plateau_patience", .number(JSONNumber(o.plateauPatience))))
        }
        if let e = o.earlyStopping { fields.append(("early_stopping", .number(JSONNumber(e)))) }
        return .object(JSONObject(fields))
    }

    /// The model's tensors under Hugging Face names, f32.
    func modelTensors() -> [TensorData] {
        var out: [TensorData] = []
        var names = Set<String>()
        func add(_ name: String, _ p: ParameterTensor) {
            guard names.insert(name).inserted, let info = TensorInfo(name: name, dtype: .f32, shape: p.shape) else { return }
            out.append(TensorData(info: info) { dst in
                let src = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(model.weights)[(p.offset * 4)..<((p.offset + p.count) * 4)])
                dst.copyMemory(from: src)
            })
        }
        // transformers names the tied head's bias after the head
        // (cls.predictions.bias, lm_head.bias); an untied head stores both (the
        // second is unused by the forward).
        let head = model.config.headNames
        for p in model.parameters {
            if p.name == head.decoderBias, let tiedName = head.tiedDecoderBias {
                add(tiedName, p)
                if !model.tiedDecoder { add(p.name, p) }
            } else {
                add(p.name, p)
            }
        }
        for t in files.extraTensors where names.insert(t.info.name).inserted { out.append(t) }
        return out.sorted { $0.info.name < $1.info.name }
    }

    /// Writes `OUT/<name>` (default `checkpoint-<step>`) atomically: the
    /// directory appears under its final name only when complete. Rotates old
    /// checkpoints past `saveTotalLimit`.
    @discardableResult
    public func saveCheckpoint(name: String? = nil, optimizerState: Bool = true) throws -> String {
        let dirName = name ?? "checkpoint-\(step)"
        let path = FileSystem.join(output, dirName)
        try verifyWeightsAgree("at step \(step)")
        guard world.isPrimary else { return path }
        let dir = try AtomicDirectory(path: path, overwrite: true)
        var config = files.config
        config.setStorageDType(.f32)
        try dir.writeFile("config.json", config.serialized())
        try SafeTensorsWriter.write(modelTensors(), metadata: ["format": "pt"], to: dir.file("model.safetensors"))
        for f in files.tokenizerFiles { try dir.writeFile(f.name, f.bytes) }
        if optimizerState {
            var moments: [TensorData] = []
            for p in model.parameters {
                for (kind, buffer) in [("exp_avg", optimizer.expAvg), ("exp_avg_sq", optimizer.expAvgSq)] {
                    guard let info = TensorInfo(name: "\(kind).\(p.name)", dtype: .f32, shape: p.shape) else { continue }
                    moments.append(TensorData(info: info) { dst in
                        dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[(p.offset * 4)..<((p.offset + p.count) * 4)]))
                    })
                }
            }
            try SafeTensorsWriter.write(moments, metadata: ["format": "pt", "step": String(optimizer.step)], to: dir.file("optimizer.safetensors"))
        }
        let state: [(String, JSONValue)] = [
            ("global_step", .number(JSONNumber(step))),
            ("epoch", .number(JSONNumber(Double(step) / Double(stepsPerEpoch)))),
            ("optimizer_step", .number(JSONNumber(optimizer.step))),
            ("rng", .object(JSONObject([
                ("generator", .string("splitmix64")),
                ("seed", .number(JSONNumber(literal: String(options.seed)))),
                ("streams", .string("shuffle: (seed, epoch); masking: (seed, epoch, example); dropout: (seed, step, example); eval masking: (seed, example)")),
                ("next_epoch", .number(JSONNumber(step / stepsPerEpoch))),
                ("next_batch_in_epoch", .number(JSONNumber((step % stepsPerEpoch) * microBatchesPerStep))),
            ]))),
            ("scheduler", .object(JSONObject([
                ("kind", .string(schedule.kind.rawValue)), ("warmup_steps", .number(JSONNumber(schedule.warmupSteps))),
                ("total_steps", .number(JSONNumber(schedule.totalSteps))), ("base_lr", .number(JSONNumber(options.learningRate))),
                ("next_lr", .number(JSONNumber(options.learningRate * schedule.factor(step: step)))),
            ]))),
            ("run", runRecord()),
            ("evaluation", tracking.json),
            ("world_size", .number(JSONNumber(world.size))),
            ("grad_accum", .number(JSONNumber(options.gradAccum))),
            ("log_history", .array(history)),
        ]
        try dir.writeFile("trainer_state.json", Array(JSONValue.object(JSONObject(state)).serialized(indent: 2).utf8) + [0x0A])
        try dir.commit()
        if name == nil { try rotate() }
        return path
    }

    /// Rank 0's weights (and, on resume, optimizer state) on every process,
    /// then the weights compared.
    func synchronizeStart() throws {
        guard world.size > 1 else { return }
        try world.broadcast(UnsafeMutableRawBufferPointer(model.weights), root: 0)
        try world.broadcast(UnsafeMutableRawBufferPointer(optimizer.expAvg), root: 0)
        try world.broadcast(UnsafeMutableRawBufferPointer(optimizer.expAvgSq), root: 0)
        var optimizerStep = [Double(optimizer.step)]
        try optimizerStep.withUnsafeMutableBytes { try world.broadcast($0, root: 0) }
        if Int(optimizerStep[0]) != optimizer.step {
            throw TrainingError(path: output, reason: "rank \(world.rank) resumed at optimizer step \(optimizer.step), rank 0 at \(Int(optimizerStep[0]))")
        }
        try verifyWeightsAgree("at the start")
    }

    /// Throws when the processes' weights differ (an XXH64 of each process's weights, compared).
    func verifyWeightsAgree(_ when: String) throws {
        guard world.size > 1 else { return }
        var h = Checksum64()
        h.update(UnsafeRawBufferPointer(model.weights))
        let all = try world.gather(h.value)
        if let bad = all.firstIndex(where: { $0 != all[0] }) {
            throw TrainingError(path: output, reason: "the weights of rank \(bad) differ from rank 0's \(when): the processes diverged")
        }
    }

    fileprivate func rotate() throws {
        guard let limit = cadence.saveTotalLimit, limit >= 1 else { return }
        let all = Trainer.checkpoints(in: output).filter { $0.step <= step }
        for (s, path) in all.dropLast(limit) where s != step { try FileSystem.removeDirectory(path) }
    }

    /// The complete checkpoints in `directory`, oldest first.
    public static func checkpoints(in directory: String) -> [(step: Int, path: String)] {
        let names = (try? FileSystem.list(directory)) ?? []
        return names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("checkpoint-"), let s = Int(n.dropFirst("checkpoint-".count)), s >= 0 else { return nil }
            let p = FileSystem.join(directory, n)
            guard FileSystem.isFile(FileSystem.join(p, "trainer_state.json")) else { return nil }
            return (s, p)
        }.sorted { $0.0 < $1.0 }
    }

    /// Restores the optimizer, step and history from a checkpoint directory
    /// whose weights the model was built from.
    ///
    /// - Throws: `TrainingError` when the checkpoint lacks its state or was
    ///   written by a run with other settings (unless `force`).
    public func resume(from path: String, force: Bool) throws {
        let statePath = FileSystem.join(path, "trainer_state.json")
        let state = try JSONParser.parse(try readFile(statePath), path: statePath)
        guard let s = state["global_step"]?.int, s >= 0, let optStep = state["optimizer_step"]?.int else {
            throw TrainingError(path: statePath, reason: "no global_step / optimizer_step")
        }
        if let run = state["run"]?.object, case let .object(mine) = runRecord() {
            let differing = mine.keys.filter { run[$0]?.serialized() != mine[$0]?.serialized() }
            if !differing.isEmpty && !force {
                let detail = differing.map { "\($0) was \(run[$0]?.serialized() ?? "absent"), now \(mine[$0]?.serialized() ?? "absent")" }
                throw TrainingError(path: path, reason: "the run's settings changed, so resuming would not continue the same run ("
                                    + detail.joined(separator: "; ") + "); pass --force to resume anyway")
            }
        }
        let optPath = FileSystem.join(path, "optimizer.safetensors")
        let file = try SafeTensorsFile(path: optPath)
        var m = [Float](repeating: 0, count: model.parameterCount), v = m
        for p in model.parameters {
            for (kind, isAvg) in [("exp_avg", true), ("exp_avg_sq", false)] {
                let name = "\(kind).\(p.name)"
                guard let info = file.info(name), info.dtype == .f32, info.shape == p.shape else {
                    throw TrainingError(path: optPath, reason: "missing or mis-shaped \(name)")
                }
                let values = try file.data(name).floats()
                if isAvg { m.replaceSubrange(p.offset..<(p.offset + p.count), with: values) }
                else { v.replaceSubrange(p.offset..<(p.offset + p.count), with: values) }
            }
        }
        optimizer.restore(step: optStep, expAvg: m, expAvgSq: v)
        step = min(s, totalSteps)
        tracking = state["evaluation"].map(EvalTracking.init(json:)) ?? EvalTracking()
        let (n, a) = (state["world_size"]?.int ?? 1, state["grad_accum"]?.int ?? options.gradAccum)
        if n != world.size || a != options.gradAccum {
            resumeNote = "the checkpoint was written by \(n) process\(n == 1 ? "" : "es") × \(a) micro-batches per step, this run has "
                + "\(world.size) × \(options.gradAccum): the same global batch of \(world.size * options.gradAccum * options.batchSize) sequences, "
                + "so the same steps (bit for bit when each process then sums whole micro-batches in the same grouping)"
        }
    }
}
