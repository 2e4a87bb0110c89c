"""The memory model, and the invariant over the whole GPU table: the pick fits, or the advice says nothing fits."""
import pytest

from advisor.facts import ModelCensus
from advisor.hardware import memory
from advisor.hardware.memory import Training, estimate, optimizer_from, sharding_for
from advisor.hardware.recommend import recommend
from advisor.hardware.table import table

GIB = 2**30
B = 1_000_000_000
LINEAR_ONLY = ModelCensus("linear", B, B, B)


def llama(billions: float, lora: bool) -> ModelCensus:
    """A LLaMA-shaped census: 96% of the parameters in nn.Linear; LoRA trains 0.2% (adapters outside nn.Linear)."""
    params = int(billions * B)
    return ModelCensus(f"{billions}B", params, int(params * 0.002) if lora else params, int(params * 0.96))


# ---- the parts of an estimate --------------------------------------------------

def test_mixed_keeps_fp32_weights_and_caches_16_bit_copies():
    found = estimate(Training(LINEAR_ONLY), "bf16-mixed")
    assert (found.weights, found.grads, found.optimizer) == pytest.approx((4 * B / GIB, 4 * B / GIB, 8 * B / GIB))
    assert found.cache == pytest.approx(2 * B / GIB)
    assert estimate(Training(LINEAR_ONLY), "32-true").cache == 0


def test_true_half_stores_everything_in_16_bit():
    found = estimate(Training(LINEAR_ONLY), "bf16-true")
    assert found.total == pytest.approx((2 + 2 + 4) * B / GIB)


def test_gradients_and_states_count_trainable_parameters_only():
    lora = ModelCensus("lora", B, 1_000_000, B // 2)
    found = estimate(Training(lora), "bf16-true")
    assert found.weights == pytest.approx(2 * B / GIB)
    assert found.grads == pytest.approx(2e6 / GIB) and found.optimizer == pytest.approx(4e6 / GIB)


@pytest.mark.parametrize("qualified, keywords, name, states, state_bytes", [
    ("torch.optim.Adam", {}, "Adam", 2, None),
    ("torch.optim.AdamW", {}, "AdamW", 2, None),
    ("torch.optim.SGD", {}, "SGD", 0, None),
    ("torch.optim.SGD", {"momentum": 0.9}, "SGD with momentum", 1, None),
    ("torch.optim.RMSprop", {"momentum": 0.9}, "RMSprop", 2, None),
    ("transformers.optimization.Adafactor", {}, "Adafactor", 0, None),
    ("bitsandbytes.optim.AdamW8bit", {}, "AdamW8bit", 2, 1),
    ("bitsandbytes.optim.PagedAdamW8bit", {}, "PagedAdamW8bit", 2, 1),
    ("bitsandbytes.optim.PagedAdamW", {}, "PagedAdamW", 2, 4),
    ("bitsandbytes.optim.Adam", {"optim_bits": 8}, "Adam", 2, 1),
])
def test_optimizer_states(qualified, keywords, name, states, state_bytes):
    found = optimizer_from(qualified, keywords)
    assert (found.name, found.states, found.state_bytes) == (name, states, state_bytes)
    assert found.paged == ("Paged" in qualified)


def test_unknown_optimizers_fall_back_to_adam_and_say_so():
    assert optimizer_from("torch.optim.lr_scheduler.StepLR", {}) is None
    assert optimizer_from("mylib.MyOptimizer", {}) is None
    assert memory.choose_optimizer([]).assumed and "assumed" in memory.choose_optimizer([]).describe()


def test_optimizer_states_change_the_estimate():
    sgd = estimate(Training(LINEAR_ONLY, optimizer_from("torch.optim.SGD", {})), "bf16-true")
    adam8 = estimate(Training(LINEAR_ONLY, optimizer_from("bitsandbytes.optim.AdamW8bit", {})), "bf16-true")
    assert sgd.optimizer == 0 and adam8.optimizer == pytest.approx(2 * B / GIB)


def test_quantized_linear_weights_and_init_module():
    census = ModelCensus("m", 2 * B, 10_000_000, B)  # half the parameters outside nn.Linear
    plain = estimate(Training(census), "nf4")
    built_16 = estimate(Training(census, init_module=True), "nf4")
    assert plain.weights == pytest.approx((B * 4.5 / 8 + B * 4) / GIB)  # Lightning keeps the rest in fp32
    assert built_16.weights == pytest.approx((B * 4.5 / 8 + B * 2) / GIB)  # init_module() builds it in 16 bit
    assert plain.trainable_params == 10_000_000 and plain.cache == 0


def test_quantization_freezes_every_linear_of_a_full_fine_tune():
    census = ModelCensus("m", 2 * B, 2 * B, B)
    assert estimate(Training(census), "nf4").trainable_params == B  # only the non-Linear half still trains
    assert memory.quantized_trainable(census, "int8-training") == 2 * B


@pytest.mark.parametrize("strategy, weights, grads, optimizer", [
    ("fsdp", True, True, True),
    ("deepspeed_stage_1", False, False, True),
    ("deepspeed_stage_2", False, True, True),
    ("deepspeed", False, True, True),  # Lightning's default stage is 2
    ("deepspeed_stage_3", True, True, True),
    ("ddp", False, False, False),
    (None, False, False, False),
])
def test_what_each_strategy_shards(strategy, weights, grads, optimizer):
    shard = sharding_for(strategy, 8)
    assert (shard.weights, shard.grads, shard.optimizer) == (weights, grads, optimizer)
    one, eight = (estimate(Training(LINEAR_ONLY, sharding=sharding_for(strategy, n)), "bf16-true") for n in (1, 8))
    assert eight.weights == pytest.approx(one.weights / (8 if weights else 1))
    assert eight.grads == pytest.approx(one.grads / (8 if grads else 1))


def test_deepspeed_keeps_fp32_master_weights_in_the_optimizer():
    found = estimate(Training(LINEAR_ONLY, sharding=sharding_for("deepspeed_stage_1", 1)), "bf16-mixed")
    assert (found.weights, found.grads, found.optimizer) == pytest.approx((2 * B / GIB, 2 * B / GIB, 12 * B / GIB))


def test_offload_moves_the_optimizer_off_the_device():
    offloaded = Training(LINEAR_ONLY, sharding=sharding_for("deepspeed_stage_2_offload", 4))
    assert estimate(offloaded, "bf16-mixed").optimizer == 0


def test_quantized_estimates_shard_too():
    """The issue's 60B LoRA with nf4 on 8 H100 with FSDP: per device, not the whole model."""
    census = llama(60, lora=True)
    one = estimate(Training(census), "nf4").total
    assert estimate(Training(census, sharding=sharding_for("fsdp", 8)), "nf4").total == pytest.approx(one / 8)


# ---- the invariant over the table --------------------------------------------------

SIZES = (1, 3, 7, 13, 34, 70)


@pytest.mark.parametrize("gpu", table(), ids=[g.key for g in table()])
@pytest.mark.parametrize("lora", (False, True), ids=("full", "lora"))
@pytest.mark.parametrize("devices, strategy", ((1, None), (8, "fsdp")), ids=("1-device", "8-fsdp"))
def test_the_pick_fits_or_the_advice_says_nothing_fits(gpu, lora, devices, strategy):
    for billions in SIZES:
        census = llama(billions, lora)
        rec = recommend(gpu, census=census, devices=devices, strategy=strategy)
        mem = rec.memory
        if gpu.memory_gib is None:
            assert rec.fits is None
            continue
        budget = mem["budget_gib"]
        assert budget == pytest.approx(gpu.memory_gib * 0.8, abs=0.01)
        if rec.fits:
            chosen = mem["chosen"]
            assert mem["candidates"][chosen] <= budget
            assert chosen.split(" + ")[0] == (rec.plugin.mode if rec.plugin else rec.precision)
            before = mem["order"][:mem["order"].index(chosen)]
            assert all(mem["candidates"][label] > budget for label in before), "a faster candidate fits"
            assert sum(v for k, v in mem["breakdown"][chosen].items() if k != "trainable_params") == \
                pytest.approx(mem["candidates"][chosen], abs=0.05)
        else:
            assert rec.fits is False and "nothing fits" in " ".join(rec.reasons)
            assert "nothing fits" in rec.headline()
            for change in rec.changes:
                assert change["gib"] <= budget
        if rec.plugin is not None:
            assert lora and gpu.kind in ("cuda", "rocm"), "4-bit only with trainable adapters, only on CUDA"
            assert rec.precision is None and rec.throughput["dense_tflops"] is None
            assert "slower than 16-bit" in rec.throughput["note"]
