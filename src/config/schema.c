/* schema.c: every pipeline.config field an EasyRec DBMTL pipeline can use, as tables read
 * from EasyRec's protos (easy_rec/python/protos/{pipeline,train,eval,dataset,feature_config,
 * easy_rec_model,dbmtl,tower,dnn,loss,optimizer,export}.proto at bd230cb), with EasyRec's
 * defaults; the schema walk (document order) and typed cursors over a checked tree.
 * Owns: field names, kinds, defaults, supported/unsupported/ignored status, value checks.
 * Does not own: cross-field rules (pipeline_load.c, pipeline_validate.c).
 *
 * mtrec extensions (not in EasyRec): train_config.seed (int, default 2020),
 * train_config.mixed_precision (TorchEasyRec's name: "BF16" | "FP32"),
 * optimizer_config.sgd_optimizer { learning_rate { ... } } (plain SGD).
 *
 * ACCEPTED AND IGNORED (they only tune TensorFlow or its cluster; each use is recorded in
 * mt_pipeline.ignored_fields; the "=default" ones are refused as unsupported otherwise):
 *   train_config: sync_replicas, sparse_accumulator_type, startup_delay_steps,
 *     save_summary_steps, is_profiling, train_distribute, num_gpus_per_worker,
 *     summary_model_vars, protocol, inter_op_parallelism_threads,
 *     intra_op_parallelism_threads, tensor_fuse, write_graph, enable_oss_stop_signal,
 *     force_restore_shape_compatible=false
 *   optimizer_config: use_moving_average=false, moving_average_decay
 *   eval_config: eval_interval_secs, max_evals, save_graph, eval_online=false,
 *     metrics_set (multi-task models use each tower's metrics_set, as EasyRec does),
 *     auc.num_thresholds (mtrec computes the exact AUC)
 *   data_config: prefetch_size, num_parallel_calls, shard, file_shard, rtp_separator,
 *     pai_worker_queue, pai_worker_slice_num, chief_redundant, data_compression_type,
 *     n_data_batch_tfrecord, eval_batch_size, auto_expand_input_fields=false,
 *     selected_cols="", selected_col_types="", drop_remainder=false,
 *     input_fields.input_dim=1, input_fields.input_shape=1
 *   feature_config: embedding_on_cpu; features: lookup_max_sel_elem_num, max_partitions,
 *     sub_feature_type=IdFeature, sequence_length=1, combo_join_sep=""
 *   model_config: model_name, loss_type, num_class (single-task fields; DBMTL uses the
 *     towers'), feature_groups.negative_sampler=false
 *   task_towers.losses: learn_loss_weight=false
 *   export_config: batch_size, exporter_type, best_exporter_metric, metric_bigger,
 *     max_check_steps, exports_to_keep, placeholder_named_by_input, filter_inputs,
 *     enable_early_stop=false, auto_multi_value=false, export_features=false,
 *     export_rtp_outputs=false */
#include "config/schema.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLD(n, k, fl, d) { .name = n, .kind = k, .flags = fl, .def = d }
#define CHK(n, fl, d, fn) { .name = n, .kind = MT_SF_STRING, .flags = fl, .def = d, .check = fn }
#define MSG(n, m, fl) { .name = n, .kind = MT_SF_MSG, .flags = fl, .msg = m }
#define ONE(n, m, fl, o) { .name = n, .kind = MT_SF_MSG, .flags = fl, .msg = m, .oneof = o }
#define ENM(n, en, fl, d) { .name = n, .kind = MT_SF_ENUM, .flags = fl, .def = d, .enm = en }
#define UNS(n) { .name = n, .kind = MT_SF_MSG, .flags = MT_SF_UNSUPPORTED }
#define UNS1(n, o) { .name = n, .kind = MT_SF_MSG, .flags = MT_SF_UNSUPPORTED, .oneof = o }
#define IGN(n, k, d) { .name = n, .kind = k, .flags = MT_SF_IGNORED, .def = d }
#define DEF(n, k, d) { .name = n, .kind = k, .flags = MT_SF_DEFAULT_ONLY, .def = d }
#define END { .name = NULL }
#define R MT_SF_REPEATED
#define S MT_SF_STRING
#define I MT_SF_INT
#define U MT_SF_UINT
#define F MT_SF_FLOAT
#define B MT_SF_BOOL

static mtrec_status chk_activation(const char *cfg, const mt_tf_node *n, mt_err *e);
static mtrec_status chk_combiner(const char *cfg, const mt_tf_node *n, mt_err *e);
static mtrec_status chk_reduction(const char *cfg, const mt_tf_node *n, mt_err *e);
static mtrec_status chk_precision(const char *cfg, const mt_tf_node *n, mt_err *e);
static mtrec_status chk_model_class(const char *cfg, const mt_tf_node *n, mt_err *e);
static mtrec_status chk_one_char(const char *cfg, const mt_tf_node *n, mt_err *e);

/* ---- enums -------------------------------------------------------------------------------- */
static const char *const ev_field_type[] = {"INT32", "INT64", "STRING", "FLOAT", "DOUBLE", "BOOL", NULL};
static const mt_schema_enum en_field_type = {"FieldType", ev_field_type, NULL};
static const char *const ev_input[] = {"CSVInput", NULL};
static const char *const ev_input_uns[] = {
    "CSVInputV2", "CSVInputEx", "OdpsInput", "OdpsInputV2", "DataHubInput", "OdpsInputV3",
    "RTPInput", "RTPInputV2", "OdpsRTPInput", "OdpsRTPInputV2", "TFRecordInput",
    "BatchTFRecordInput", "DummyInput", "KafkaInput", "HiveInput", "HiveRTPInput",
    "HiveParquetInput", "ParquetInput", "ParquetInputV2", "ParquetInputV3", "CriteoInput", NULL};
static const mt_schema_enum en_input = {"InputType", ev_input, ev_input_uns};
static const char *const ev_feat[] = {"IdFeature", "RawFeature", "TagFeature", NULL};
static const char *const ev_feat_uns[] = {"ComboFeature", "LookupFeature", "SequenceFeature",
                                          "ExprFeature", "PassThroughFeature", NULL};
static const mt_schema_enum en_feat = {"FeatureType", ev_feat, ev_feat_uns};
static const char *const ev_wd[] = {"DEEP", NULL};
static const char *const ev_wd_uns[] = {"WIDE", "WIDE_AND_DEEP", NULL};
static const mt_schema_enum en_wd = {"WideOrDeep", ev_wd, ev_wd_uns};
static const char *const ev_loss[] = {"CLASSIFICATION", "L2_LOSS", "SIGMOID_L2_LOSS",
                                      "CROSS_ENTROPY_LOSS", "PAIR_WISE_LOSS", NULL};
static const char *const ev_loss_uns[] = {
    "SOFTMAX_CROSS_ENTROPY", "CIRCLE_LOSS", "MULTI_SIMILARITY_LOSS",
    "SOFTMAX_CROSS_ENTROPY_WITH_NEGATIVE_MINING", "F1_REWEIGHTED_LOSS", "BINARY_FOCAL_LOSS",
    "PAIRWISE_FOCAL_LOSS", "PAIRWISE_LOGISTIC_LOSS", "PAIRWISE_HINGE_LOSS", "JRC_LOSS",
    "ORDER_CALIBRATE_LOSS", "BINARY_CROSS_ENTROPY_LOSS", "KL_DIVERGENCE_LOSS",
    "LISTWISE_RANK_LOSS", "LISTWISE_DISTILL_LOSS", "ZILN_LOSS", NULL};
static const mt_schema_enum en_loss = {"LossType", ev_loss, ev_loss_uns};
/* model-level loss_type is ignored by DBMTL, so every value is acceptable there */
static const char *const ev_loss_all[] = {
    "CLASSIFICATION", "L2_LOSS", "SIGMOID_L2_LOSS", "CROSS_ENTROPY_LOSS", "PAIR_WISE_LOSS",
    "SOFTMAX_CROSS_ENTROPY", "CIRCLE_LOSS", "MULTI_SIMILARITY_LOSS",
    "SOFTMAX_CROSS_ENTROPY_WITH_NEGATIVE_MINING", "F1_REWEIGHTED_LOSS", "BINARY_FOCAL_LOSS",
    "PAIRWISE_FOCAL_LOSS", "PAIRWISE_LOGISTIC_LOSS", "PAIRWISE_HINGE_LOSS", "JRC_LOSS",
    "ORDER_CALIBRATE_LOSS", "BINARY_CROSS_ENTROPY_LOSS", "KL_DIVERGENCE_LOSS",
    "LISTWISE_RANK_LOSS", "LISTWISE_DISTILL_LOSS", "ZILN_LOSS", NULL};
static const mt_schema_enum en_loss_all = {"LossType", ev_loss_all, NULL};
static const char *const ev_lws[] = {"Fixed", NULL};
static const char *const ev_lws_uns[] = {"Uncertainty", "Random", NULL};
static const mt_schema_enum en_lws = {"LossWeightStrategy", ev_lws, ev_lws_uns};
static const char *const ev_dist[] = {
    "NoStrategy", "PSStrategy", "MirroredStrategy", "CollectiveAllReduceStrategy",
    "ExascaleStrategy", "MultiWorkerMirroredStrategy", "HorovodStrategy", "SokStrategy",
    "EmbeddingParallelStrategy", NULL};
static const mt_schema_enum en_dist = {"DistributionStrategy", ev_dist, NULL};

/* ---- train_config ------------------------------------------------------------------------- */
static const mt_schema_field f_const_lr[] = {FLD("learning_rate", F, 0, "0.002"), END};
static const mt_schema_msg sm_const_lr = {"ConstantLearningRate", f_const_lr};
static const mt_schema_field f_exp_lr[] = {
    FLD("initial_learning_rate", F, 0, "0.002"), FLD("decay_steps", U, 0, "4000000"),
    FLD("decay_factor", F, 0, "0.95"), FLD("staircase", B, 0, "true"),
    FLD("burnin_learning_rate", F, 0, "0"), FLD("burnin_steps", U, 0, "0"),
    FLD("min_learning_rate", F, 0, "0"), END};
static const mt_schema_msg sm_exp_lr = {"ExponentialDecayLearningRate", f_exp_lr};
static const mt_schema_field f_lr[] = {
    ONE("constant_learning_rate", &sm_const_lr, 0, 1),
    ONE("exponential_decay_learning_rate", &sm_exp_lr, 0, 1),
    UNS1("manual_step_learning_rate", 1), UNS1("cosine_decay_learning_rate", 1),
    UNS1("poly_decay_learning_rate", 1), UNS1("transformer_learning_rate", 1), END};
static const mt_schema_msg sm_lr = {"LearningRate", f_lr};
static const mt_schema_field f_adam[] = {MSG("learning_rate", &sm_lr, 0), FLD("beta1", F, 0, "0.9"),
                                         FLD("beta2", F, 0, "0.999"), END};
static const mt_schema_msg sm_adam = {"AdamOptimizer", f_adam};
static const mt_schema_field f_mom[] = {MSG("learning_rate", &sm_lr, 0),
                                        FLD("momentum_optimizer_value", F, 0, "0.9"), END};
static const mt_schema_msg sm_mom = {"MomentumOptimizer", f_mom};
static const mt_schema_field f_adagrad[] = {MSG("learning_rate", &sm_lr, 0),
                                            FLD("initial_accumulator_value", F, 0, "0.1"), END};
static const mt_schema_msg sm_adagrad = {"AdagradOptimizer", f_adagrad};
static const mt_schema_field f_sgd[] = {MSG("learning_rate", &sm_lr, 0), END};
static const mt_schema_msg sm_sgd = {"SgdOptimizer (mtrec)", f_sgd};
static const mt_schema_field f_opt[] = {
    UNS1("rms_prop_optimizer", 1), ONE("momentum_optimizer", &sm_mom, 0, 1),
    ONE("adam_optimizer", &sm_adam, 0, 1), UNS1("momentumw_optimizer", 1),
    UNS1("adamw_optimizer", 1), UNS1("adam_async_optimizer", 1),
    ONE("adagrad_optimizer", &sm_adagrad, 0, 1), UNS1("ftrl_optimizer", 1),
    UNS1("adam_asyncw_optimizer", 1), ONE("lazy_adam_optimizer", &sm_adam, 0, 1),
    ONE("sgd_optimizer", &sm_sgd, 0, 1),
    DEF("use_moving_average", B, "false"), IGN("moving_average_decay", F, "0.9999"),
    UNS("embedding_learning_rate_multiplier"), END};
static const mt_schema_msg sm_opt = {"Optimizer", f_opt};
static const mt_schema_field f_train[] = {
    MSG("optimizer_config", &sm_opt, R), FLD("gradient_clipping_by_norm", F, 0, "0"),
    FLD("num_steps", U, 0, "0"), FLD("fine_tune_checkpoint", S, 0, NULL),
    UNS("fine_tune_ckpt_var_map"), IGN("sync_replicas", B, "true"),
    IGN("sparse_accumulator_type", S, "multi_map"), IGN("startup_delay_steps", F, "15"),
    FLD("save_checkpoints_steps", U, 0, "1000"), UNS("save_checkpoints_secs"),
    FLD("keep_checkpoint_max", U, 0, "10"), IGN("save_summary_steps", U, "1000"),
    FLD("log_step_count_steps", U, 0, "10"), IGN("is_profiling", B, "false"),
    DEF("force_restore_shape_compatible", B, "false"),
    ENM("train_distribute", &en_dist, MT_SF_IGNORED, "NoStrategy"),
    IGN("num_gpus_per_worker", I, "1"), IGN("summary_model_vars", B, "false"),
    IGN("protocol", S, NULL), IGN("inter_op_parallelism_threads", I, "0"),
    IGN("intra_op_parallelism_threads", I, "0"), IGN("tensor_fuse", B, "false"),
    IGN("write_graph", B, "true"), UNS("freeze_gradient"), UNS("incr_save_config"),
    IGN("enable_oss_stop_signal", B, "false"), UNS("dead_line"),
    CHK("mixed_precision", 0, NULL, chk_precision), FLD("seed", MT_SF_INT, 0, "2020"), END};
static const mt_schema_msg sm_train = {"TrainConfig", f_train};

/* ---- eval_config and metrics -------------------------------------------------------------- */
static const mt_schema_field f_auc[] = {IGN("num_thresholds", U, "200"), END};
static const mt_schema_msg sm_auc = {"AUC", f_auc};
static const mt_schema_field f_empty[] = {END};
static const mt_schema_msg sm_empty = {"(empty)", f_empty};
static const mt_schema_field f_gauc[] = {FLD("uid_field", S, MT_SF_REQUIRED, NULL),
                                         CHK("reduction", 0, "mean", chk_reduction), END};
static const mt_schema_msg sm_gauc = {"GAUC", f_gauc};
static const mt_schema_field f_metric[] = {
    ONE("auc", &sm_auc, 0, 1), UNS1("recall_at_topk", 1),
    ONE("mean_absolute_error", &sm_empty, 0, 1), ONE("mean_squared_error", &sm_empty, 0, 1),
    ONE("accuracy", &sm_empty, 0, 1), UNS1("max_f1", 1),
    ONE("root_mean_squared_error", &sm_empty, 0, 1), ONE("gauc", &sm_gauc, 0, 1),
    UNS1("session_auc", 1), UNS1("recall", 1), UNS1("precision", 1),
    UNS1("precision_at_topk", 1), END};
static const mt_schema_msg sm_metric = {"EvalMetrics", f_metric};
/* eval_config.metrics_set: multi-task models ignore it (EasyRec too), so every EasyRec metric
 * is accepted there with any parameters; names are still checked. */
#define ANY1(n) { .name = n, .kind = MT_SF_MSG, .oneof = 1 }
static const mt_schema_field f_metric_any[] = {
    ANY1("auc"), ANY1("recall_at_topk"), ANY1("mean_absolute_error"), ANY1("mean_squared_error"),
    ANY1("accuracy"), ANY1("max_f1"), ANY1("root_mean_squared_error"), ANY1("gauc"),
    ANY1("session_auc"), ANY1("recall"), ANY1("precision"), ANY1("precision_at_topk"), END};
static const mt_schema_msg sm_metric_any = {"EvalMetrics", f_metric_any};
static const mt_schema_field f_eval[] = {
    FLD("num_examples", U, 0, "0"), IGN("eval_interval_secs", U, "300"),
    IGN("max_evals", U, "0"), IGN("save_graph", B, "false"),
    MSG("metrics_set", &sm_metric_any, R | MT_SF_IGNORED), DEF("eval_online", B, "false"), END};
static const mt_schema_msg sm_eval = {"EvalConfig", f_eval};

/* ---- data_config ---------------------------------------------------------------------------- */
static const mt_schema_field f_field[] = {
    FLD("input_name", S, MT_SF_REQUIRED, NULL), ENM("input_type", &en_field_type, 0, "STRING"),
    FLD("default_val", S, 0, NULL), DEF("input_dim", U, "1"), DEF("input_shape", U, "1"),
    UNS("user_define_fn"), UNS("user_define_fn_path"), UNS("user_define_fn_res_type"),
    UNS("ignore_val"), END};
static const mt_schema_msg sm_field = {"Field", f_field};
static const mt_schema_field f_data[] = {
    FLD("batch_size", U, 0, "32"), DEF("auto_expand_input_fields", B, "false"),
    FLD("label_fields", S, R, NULL), UNS("label_sep"), UNS("label_dim"),
    UNS("extra_label_func"), FLD("shuffle", B, 0, "true"),
    FLD("shuffle_buffer_size", I, 0, "32"), FLD("num_epochs", U, 0, "0"),
    IGN("prefetch_size", U, "32"), IGN("shard", B, "false"), IGN("file_shard", B, "false"),
    ENM("input_type", &en_input, MT_SF_REQUIRED, NULL), CHK("separator", 0, ",", chk_one_char),
    IGN("num_parallel_calls", U, "8"), DEF("selected_cols", S, ""),
    DEF("selected_col_types", S, ""), MSG("input_fields", &sm_field, R),
    IGN("rtp_separator", S, ";"), FLD("ignore_error", B, 0, "false"),
    IGN("pai_worker_queue", B, "false"), IGN("pai_worker_slice_num", I, "100"),
    IGN("chief_redundant", B, "false"), FLD("sample_weight", S, 0, NULL),
    IGN("data_compression_type", S, ""), IGN("n_data_batch_tfrecord", U, NULL),
    FLD("with_header", B, 0, "false"), UNS("feature_fields"), UNS1("negative_sampler", 1),
    UNS1("negative_sampler_v2", 1), UNS1("hard_negative_sampler", 1),
    UNS1("hard_negative_sampler_v2", 1), UNS1("negative_sampler_in_memory", 1),
    IGN("eval_batch_size", U, "4096"), DEF("drop_remainder", B, "false"), END};
static const mt_schema_msg sm_data = {"DatasetConfig", f_data};

/* ---- features --------------------------------------------------------------------------------- */
static const mt_schema_field f_feature[] = {
    FLD("feature_name", S, 0, NULL), FLD("input_names", S, R, NULL),
    ENM("feature_type", &en_feat, 0, "IdFeature"), FLD("embedding_name", S, 0, ""),
    FLD("embedding_dim", U, 0, "0"), FLD("hash_bucket_size", MT_SF_UINT64, 0, "0"),
    FLD("num_buckets", MT_SF_UINT64, 0, "0"), FLD("boundaries", F, R, NULL),
    FLD("separator", S, 0, "|"), FLD("kv_separator", S, 0, NULL), UNS("seq_multi_sep"),
    UNS("max_seq_len"), UNS("vocab_file"), FLD("vocab_list", S, R, NULL), UNS("shared_names"),
    IGN("lookup_max_sel_elem_num", I, "10"), IGN("max_partitions", I, "1"),
    CHK("combiner", 0, "sum", chk_combiner), UNS("initializer"), FLD("precision", I, 0, "-1"),
    FLD("min_val", F, 0, "0"), FLD("max_val", F, 0, "0"), UNS("normalizer_fn"),
    FLD("raw_input_dim", U, 0, "1"), UNS("sequence_combiner"),
    { .name = "sub_feature_type", .kind = MT_SF_ENUM, .flags = MT_SF_DEFAULT_ONLY,
      .def = "IdFeature", .enm = &en_feat },
    DEF("sequence_length", U, "1"), UNS("expression"), UNS("ev_params"),
    DEF("combo_join_sep", S, ""), UNS("combo_input_seps"), END};
static const mt_schema_msg sm_feature = {"FeatureConfig", f_feature};
static const mt_schema_field f_feature_v2[] = {MSG("features", &sm_feature, R),
                                               IGN("embedding_on_cpu", B, "false"), END};
static const mt_schema_msg sm_feature_v2 = {"FeatureConfigV2", f_feature_v2};

/* ---- model_config ------------------------------------------------------------------------------ */
static const mt_schema_field f_dnn[] = {
    FLD("hidden_units", U, R, NULL), FLD("dropout_ratio", F, R, NULL),
    CHK("activation", 0, "tf.nn.relu", chk_activation), FLD("use_bn", B, 0, "true"), END};
static const mt_schema_msg sm_dnn = {"DNN", f_dnn};
static const mt_schema_field f_pairwise[] = {FLD("margin", F, 0, "0"), FLD("session_name", S, 0, NULL),
                                             FLD("temperature", F, 0, "1.0"), END};
static const mt_schema_msg sm_pairwise = {"PairwiseLoss", f_pairwise};
static const mt_schema_field f_loss[] = {
    ENM("loss_type", &en_loss, MT_SF_REQUIRED, NULL), FLD("weight", F, 0, "1.0"),
    FLD("loss_name", S, 0, NULL), DEF("learn_loss_weight", B, "false"),
    UNS1("f1_reweighted_loss", 1), UNS1("softmax_loss", 1), UNS1("circle_loss", 1),
    UNS1("multi_simi_loss", 1), UNS1("binary_focal_loss", 1),
    ONE("pairwise_loss", &sm_pairwise, 0, 1), UNS1("pairwise_focal_loss", 1),
    UNS1("pairwise_logistic_loss", 1), UNS1("jrc_loss", 1), UNS1("pairwise_hinge_loss", 1),
    UNS1("listwise_rank_loss", 1), UNS1("listwise_distill_loss", 1), UNS1("ziln_loss", 1), END};
static const mt_schema_msg sm_loss = {"Loss", f_loss};
static const mt_schema_field f_tower[] = {
    FLD("tower_name", S, MT_SF_REQUIRED, NULL), FLD("label_name", S, 0, NULL),
    MSG("metrics_set", &sm_metric, R), ENM("loss_type", &en_loss, 0, "CLASSIFICATION"),
    FLD("num_class", U, 0, "1"), MSG("dnn", &sm_dnn, 0), FLD("relation_tower_names", S, R, NULL),
    MSG("relation_dnn", &sm_dnn, 0), FLD("weight", F, 0, "1.0"),
    FLD("task_space_indicator_label", S, 0, NULL), FLD("in_task_space_weight", F, 0, "1.0"),
    FLD("out_task_space_weight", F, 0, "1.0"), MSG("losses", &sm_loss, R),
    FLD("use_sample_weight", B, 0, "true"), UNS("task_space_indicator_name"),
    UNS("task_space_indicator_value"), END};
static const mt_schema_msg sm_tower = {"BayesTaskTower", f_tower};
static const mt_schema_field f_dbmtl[] = {
    UNS("bottom_cmbf"), UNS("bottom_uniter"), MSG("bottom_dnn", &sm_dnn, 0),
    MSG("expert_dnn", &sm_dnn, 0), FLD("num_expert", U, 0, "0"),
    MSG("task_towers", &sm_tower, R), FLD("l2_regularization", F, 0, "1e-4"), END};
static const mt_schema_msg sm_dbmtl = {"DBMTL", f_dbmtl};
static const mt_schema_field f_group[] = {
    FLD("group_name", S, 0, NULL), FLD("feature_names", S, R, NULL),
    ENM("wide_deep", &en_wd, 0, "DEEP"), UNS("sequence_features"),
    DEF("negative_sampler", B, "false"), END};
static const mt_schema_msg sm_group = {"FeatureGroupConfig", f_group};
static const mt_schema_field f_model[] = {
    CHK("model_class", MT_SF_REQUIRED, NULL, chk_model_class), IGN("model_name", S, NULL),
    MSG("feature_groups", &sm_group, R), UNS1("model_params", 1), UNS1("dummy", 1),
    UNS1("wide_and_deep", 1), UNS1("deepfm", 1), UNS1("multi_tower", 1), UNS1("fm", 1),
    UNS1("dcn", 1), UNS1("autoint", 1), UNS1("dlrm", 1), UNS1("cmbf", 1), UNS1("uniter", 1),
    UNS1("multi_tower_recall", 1), UNS1("dssm", 1), UNS1("mind", 1), UNS1("dropoutnet", 1),
    UNS1("metric_learning", 1), UNS1("pdn", 1), UNS1("dssm_senet", 1), UNS1("dat", 1),
    UNS1("mmoe", 1), UNS1("esmm", 1), ONE("dbmtl", &sm_dbmtl, MT_SF_REQUIRED, 1),
    UNS1("simple_multi_task", 1), UNS1("ple", 1), UNS1("rocket_launching", 1),
    UNS("seq_att_groups"), FLD("embedding_regularization", F, 0, "0"),
    ENM("loss_type", &en_loss_all, MT_SF_IGNORED, "CLASSIFICATION"),
    IGN("num_class", U, "1"), UNS("ev_params"), UNS("kd"), UNS("restore_filters"),
    UNS("variational_dropout"), UNS("losses"), ENM("loss_weight_strategy", &en_lws, 0, "Fixed"),
    UNS("backbone"), UNS("label_name"), END};
static const mt_schema_msg sm_model = {"EasyRecModel", f_model};

/* ---- export_config and the root ------------------------------------------------------------------ */
static const mt_schema_field f_export[] = {
    IGN("batch_size", I, "-1"), IGN("exporter_type", S, "final"),
    IGN("best_exporter_metric", S, "auc"), IGN("metric_bigger", B, "true"),
    DEF("enable_early_stop", B, "false"), UNS("early_stop_func"), UNS("early_stop_params"),
    IGN("max_check_steps", I, "10000"), FLD("multi_placeholder", B, 0, "true"),
    IGN("exports_to_keep", I, "1"), UNS("multi_value_fields"), DEF("auto_multi_value", B, "false"),
    IGN("placeholder_named_by_input", B, "false"), IGN("filter_inputs", B, "true"),
    DEF("export_features", B, "false"), DEF("export_rtp_outputs", B, "false"),
    UNS("asset_files"), END};
static const mt_schema_msg sm_export = {"ExportConfig", f_export};
static const mt_schema_field f_root[] = {
    { .name = "train_input_path", .kind = S, .oneof = 1 }, UNS1("kafka_train_input", 1),
    UNS1("datahub_train_input", 1), UNS1("hive_train_input", 1),
    UNS1("binary_train_input", 1), UNS1("parquet_train_input", 1),
    { .name = "eval_input_path", .kind = S, .oneof = 2 }, UNS1("kafka_eval_input", 2),
    UNS1("datahub_eval_input", 2), UNS1("hive_eval_input", 2), UNS1("binary_eval_input", 2),
    UNS1("parquet_eval_input", 2), FLD("model_dir", S, MT_SF_REQUIRED, NULL),
    MSG("train_config", &sm_train, 0), MSG("eval_config", &sm_eval, 0),
    MSG("data_config", &sm_data, MT_SF_REQUIRED), MSG("feature_configs", &sm_feature, R),
    MSG("feature_config", &sm_feature_v2, 0), MSG("model_config", &sm_model, MT_SF_REQUIRED),
    MSG("export_config", &sm_export, 0), UNS("fg_json_path"), END};
const mt_schema_msg mt_schema_pipeline = {"EasyRecConfig", f_root};

/* ==== scalar conversion ============================================================================ */

int mt_tf_to_double(const mt_tf_node *n, double *out) {
    if (!n || (n->kind != MT_TF_NUMBER && n->kind != MT_TF_IDENT) || !n->str) return -1;
    const char *s = n->str;
    const char *t = s[0] == '-' ? s + 1 : s;
    if (!strcasecmp(t, "inf") || !strcasecmp(t, "infinity")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcasecmp(t, "nan")) { *out = NAN; return 0; }
    if (n->kind != MT_TF_NUMBER) return -1;
    char buf[128];
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len + 1);
    int hex = strstr(buf, "0x") || strstr(buf, "0X");
    if (!hex && (buf[len - 1] == 'f' || buf[len - 1] == 'F')) buf[--len] = '\0';  /* 1.0f */
    if (len == 0 || len == (size_t)(buf[0] == '-')) return -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0') return -1;
    if (hex) {   /* integer hex only, as protobuf */
        int64_t iv;
        if (mt_tf_to_int64(n, &iv)) return -1;
        v = (double)iv;
    }
    *out = v;
    return 0;
}

int mt_tf_to_int64(const mt_tf_node *n, int64_t *out) {
    if (!n || n->kind != MT_TF_NUMBER || !n->str || !n->str[0]) return -1;
    const char *s = n->str;
    for (const char *q = s + (s[0] == '-'); *q; q++) {
        if (*q == '.') return -1;   /* strtoll would stop there; be explicit */
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (*end != '\0' || errno == ERANGE || end == s) return -1;
    *out = (int64_t)v;
    return 0;
}

int mt_tf_to_bool(const mt_tf_node *n, int *out) {
    if (!n || !n->str) return -1;
    const char *s = n->str;
    if (n->kind == MT_TF_IDENT) {
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "t")) { *out = 1; return 0; }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "f")) { *out = 0; return 0; }
        return -1;
    }
    if (n->kind == MT_TF_NUMBER) {
        if (!strcmp(s, "1")) { *out = 1; return 0; }
        if (!strcmp(s, "0")) { *out = 0; return 0; }
    }
    return -1;
}

/* ==== suggestions ================================================================================== */

/* Case-insensitive optimal-string-alignment distance (edits plus adjacent transpositions). */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int pp[64], prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        int ai = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= lb; j++) {
            int bj = tolower((unsigned char)b[j - 1]);
            int v = prev[j - 1] + (ai != bj);
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
        }
        memcpy(pp, prev, sizeof(int) * (lb + 1));
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *mt_did_you_mean(const char *s, const char *const *cands, int n) {
    const char *best = NULL;
    int bd = 99;
    for (int i = 0; i < n && cands[i]; i++) {
        int d = edit_distance(s, cands[i]);
        if (d < bd) { bd = d; best = cands[i]; }
    }
    size_t len = strlen(s);
    int limit = len <= 4 ? 1 : len <= 9 ? 2 : 3;
    return best && bd <= limit ? best : NULL;
}

/* ==== value checks ================================================================================== */

static const char *const act_ok[] = {"relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid",
                                     "swish", "gelu", "linear", NULL};
static const char *const act_uns[] = {"dice", "prelu", "relu6", "crelu", "softplus", "softsign", NULL};

int mt_activation_parse(const char *s, mt_activation *out) {
    static const char *const prefixes[] = {"tf.nn.", "tf.keras.activations.", "tf.", ""};
    for (int p = 0; p < 4; p++) {
        size_t pl = strlen(prefixes[p]);
        if (strncmp(s, prefixes[p], pl) != 0) continue;
        const char *t = s + pl;
        if (!strcmp(t, "silu")) t = "swish";
        if (!strcmp(t, "None") || !strcmp(t, "none") || !strcmp(t, "identity")) t = "linear";
        for (int i = 0; act_ok[i]; i++)
            if (!strcmp(t, act_ok[i])) { *out = (mt_activation)i; return 1; }
        for (int i = 0; act_uns[i]; i++)
            if (!strcmp(t, act_uns[i])) return 0;
    }
    return -1;
}

static mtrec_status chk_activation(const char *cfg, const mt_tf_node *n, mt_err *e) {
    mt_activation a;
    int r = mt_activation_parse(n->str, &a);
    if (r == 1) return MTREC_OK;
    if (r == 0)
        return mt_fail(e, MTREC_ERR_UNSUPPORTED, "%s:%d:%d: not supported yet: activation '%s'",
                       cfg, n->vline, n->vcol, n->str);
    const char *t = strncmp(n->str, "tf.nn.", 6) == 0 ? n->str + 6 : n->str;
    const char *dm = mt_did_you_mean(t, act_ok, 9);
    return mt_fail(e, MTREC_ERR_CONFIG,
                   "%s:%d:%d: unknown activation '%s'%s%s%s (expected relu, leaky_relu, elu, selu, "
                   "tanh, sigmoid, swish, gelu or linear, optionally prefixed by 'tf.nn.')",
                   cfg, n->vline, n->vcol, n->str, dm ? "; did you mean '" : "", dm ? dm : "",
                   dm ? "'?" : "");
}

/* A string from a closed set: ok[] supported, uns[] valid EasyRec values mtrec lacks. */
static mtrec_status chk_choice(const char *cfg, const mt_tf_node *n, mt_err *e, const char *what,
                               const char *const *ok, const char *const *uns) {
    int nok = 0;
    for (; ok[nok]; nok++)
        if (!strcmp(n->str, ok[nok])) return MTREC_OK;
    for (int i = 0; uns && uns[i]; i++)
        if (!strcmp(n->str, uns[i]))
            return mt_fail(e, MTREC_ERR_UNSUPPORTED, "%s:%d:%d: not supported yet: %s '%s'", cfg,
                           n->vline, n->vcol, what, n->str);
    char list[256] = "";
    for (int i = 0; ok[i]; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s'%s'", i ? ", " : "", ok[i]);
    }
    const char *dm = mt_did_you_mean(n->str, ok, nok);
    if (dm)
        return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: unknown %s '%.64s'; did you mean '%s'?", cfg,
                       n->vline, n->vcol, what, n->str, dm);
    return mt_fail(e, MTREC_ERR_CONFIG, "%s:%d:%d: unknown %s '%.64s' (expected %s)", cfg, n->vline,
                   n->vcol, what, n->str, list);
}

static mtrec_status chk_combiner(const char *cfg, const mt_tf_node *n, mt_err *e) {
    static const char *const ok[] = {"sum", "mean", NULL}, *const uns[] = {"sqrtn", NULL};
    return chk_choice(cfg, n, e, "combiner", ok, uns);
}
static mtrec_status chk_reduction(const char *cfg, const mt_tf_node *n, mt_err *e) {
    static const char *const ok[] = {"mean", "mean_by_sample_num", "mean_by_positive_num", NULL};
    return chk_choice(cfg, n, e, "gauc reduction", ok, NULL);
}
static mtrec_status chk_precision(const char *cfg, const mt_tf_node *n, mt_err *e) {
    static const char *const ok[] = {"BF16", "FP32", NULL}, *const uns[] = {"FP16", NULL};
    return chk_choice(cfg, n, e, "mixed_precision", ok, uns);
}
static mtrec_status chk_model_class(const char *cfg, const mt_tf_node *n, mt_err *e) {
    static const char *const ok[] = {"DBMTL", NULL};
    static const char *const uns[] = {
        "MultiTaskModel", "RankModel", "MMoE", "ESMM", "PLE", "SimpleMultiTask", "DeepFM",
        "WideAndDeep", "MultiTower", "FM", "DCN", "AutoInt", "DLRM", "CMBF", "Uniter", "DSSM",
        "MIND", "DropoutNet", "CoMetricLearningI2I", "PDN", "DSSM_SENet", "DAT", "DIN", "BST",
        "RocketLaunching", "MultiTowerDIN", "MultiTowerBST", "MultiTowerRecall", "DummyModel", NULL};
    return chk_choice(cfg, n, e, "model_class", ok, uns);
}
static mtrec_status chk_one_char(const char *cfg, const mt_tf_node *n, mt_err *e) {
    if (n->len == 1 && n->str[0] != '\n' && n->str[0] != '"') return MTREC_OK;
    return mt_fail(e, MTREC_ERR_CONFIG,
                   "%s:%d:%d: separator must be a single character (not a newline or '\"'), got "
                   "\"%.32s\" (%zu bytes)", cfg, n->vline, n->vcol, n->str, n->len);
}

/* ==== schema walk ================================================================================== */

typedef struct {
    const char *cfg;
    mt_schema_ignored *ign;
    mt_err *e;
    char path[512];
} walk_ctx;

static const mt_schema_field *field_of(const mt_schema_msg *sm, const char *name) {
    if (!sm || !name) return NULL;
    for (const mt_schema_field *f = sm->fields; f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

static mtrec_status ign_add(walk_ctx *w, const char *path) {
    mt_schema_ignored *g = w->ign;
    if (!g) return MTREC_OK;
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->paths[i], path)) return MTREC_OK;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 8;
        char **p = realloc(g->paths, (size_t)cap * sizeof *p);
        if (!p) return mt_fail(w->e, MTREC_ERR_NOMEM, "%s: out of memory", w->cfg);
        g->paths = p;
        g->cap = cap;
    }
    if (!(g->paths[g->n] = mt_cfg_strdup(path)))
        return mt_fail(w->e, MTREC_ERR_NOMEM, "%s: out of memory", w->cfg);
    g->n++;
    return MTREC_OK;
}

void mt_schema_ignored_free(mt_schema_ignored *ign) {
    if (!ign) return;
    for (int i = 0; i < ign->n; i++) free(ign->paths[i]);
    free(ign->paths);
    memset(ign, 0, sizeof *ign);
}

static const char *kind_desc(const mt_schema_field *f) {
    switch (f->kind) {
    case MT_SF_MSG: return "a message block";
    case MT_SF_STRING: return "a quoted string";
    case MT_SF_INT: return "an integer";
    case MT_SF_UINT: case MT_SF_UINT64: return "a non-negative integer";
    case MT_SF_FLOAT: return "a number";
    case MT_SF_BOOL: return "true or false";
    case MT_SF_ENUM: return "an unquoted enum value";
    }
    return "a value";
}

static const char *got_desc(const mt_tf_node *n, char *buf, size_t sz) {
    switch (n->kind) {
    case MT_TF_MESSAGE: return "a message block";
    case MT_TF_STRING: snprintf(buf, sz, "string \"%.40s\"", n->str); return buf;
    case MT_TF_NUMBER: snprintf(buf, sz, "%.40s", n->str); return buf;
    case MT_TF_IDENT: snprintf(buf, sz, "'%.40s'", n->str); return buf;
    }
    return "?";
}

/* Fields stored as double, or where an infinite value is meaningful. */
static int allows_inf(const char *name) {
    return !strcmp(name, "boundaries") || !strcmp(name, "min_val") || !strcmp(name, "max_val") ||
           !strcmp(name, "gradient_clipping_by_norm");
}

/* Type and range of one scalar against its field descriptor. */
static mtrec_status check_scalar(walk_ctx *w, const mt_tf_node *n, const mt_schema_field *f) {
    char got[96];
    double d;
    int64_t iv;
    int b;
    int bad = 0;
    switch (f->kind) {
    case MT_SF_STRING:
        bad = n->kind != MT_TF_STRING;
        if (!bad && strlen(n->str) != n->len)
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: string for '%s' contains a NUL byte",
                           w->cfg, n->vline, n->vcol, f->name);
        break;
    case MT_SF_INT: case MT_SF_UINT: case MT_SF_UINT64: {
        if (mt_tf_to_int64(n, &iv)) { bad = 1; break; }
        int64_t lo = f->kind == MT_SF_INT ? INT32_MIN : 0;
        int64_t hi = f->kind == MT_SF_UINT64 ? INT64_MAX : INT32_MAX;
        if (iv < lo || iv > hi)
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: value %s for '%s' is out of range "
                           "(%lld..%lld)", w->cfg, n->vline, n->vcol, n->str, f->name,
                           (long long)lo, (long long)hi);
        break;
    }
    case MT_SF_FLOAT:
        if (mt_tf_to_double(n, &d)) { bad = 1; break; }
        if (isnan(d) || (isinf(d) && !allows_inf(f->name)))
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: '%s' must be a finite number, got %s",
                           w->cfg, n->vline, n->vcol, f->name, n->str);
        if (!isinf(d) && fabs(d) > 3.4028234e38 && !allows_inf(f->name))
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: value %s for '%s' is out of range for "
                           "a float", w->cfg, n->vline, n->vcol, n->str, f->name);
        break;
    case MT_SF_BOOL: bad = mt_tf_to_bool(n, &b) != 0; break;
    case MT_SF_ENUM: {
        if (n->kind != MT_TF_IDENT) { bad = 1; break; }
        const mt_schema_enum *en = f->enm;
        int nv = 0;
        for (; en->values[nv]; nv++)
            if (!strcmp(n->str, en->values[nv])) return MTREC_OK;
        for (int i = 0; en->unsupported && en->unsupported[i]; i++)
            if (!strcmp(n->str, en->unsupported[i]))
                return mt_fail(w->e, MTREC_ERR_UNSUPPORTED, "%s:%d:%d: not supported yet: %s %s",
                               w->cfg, n->vline, n->vcol, f->name, n->str);
        const char *dm = mt_did_you_mean(n->str, en->values, nv);
        if (!dm && en->unsupported) {
            int nu = 0;
            while (en->unsupported[nu]) nu++;
            dm = mt_did_you_mean(n->str, en->unsupported, nu);
        }
        if (dm)
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: unknown %s value '%.64s' for '%s'; did "
                           "you mean '%s'?", w->cfg, n->vline, n->vcol, en->name, n->str, f->name, dm);
        char list[256] = "";
        for (int i = 0; en->values[i]; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", en->values[i]);
        }
        return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: unknown %s value '%.64s' for '%s' "
                       "(expected one of: %s)", w->cfg, n->vline, n->vcol, en->name, n->str, f->name,
                       list);
    }
    case MT_SF_MSG: break;
    }
    if (bad)
        return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: field '%s' expects %s, got %s", w->cfg,
                       n->vline, n->vcol, f->name, kind_desc(f), got_desc(n, got, sizeof got));
    return MTREC_OK;
}

/* Whether a (type-checked) scalar equals its field's default. */
static int equals_default(const mt_tf_node *n, const mt_schema_field *f) {
    const char *def = f->def ? f->def : "";
    switch (f->kind) {
    case MT_SF_BOOL: { int b = 0; mt_tf_to_bool(n, &b); return b == !strcmp(def, "true"); }
    case MT_SF_INT: case MT_SF_UINT: case MT_SF_UINT64: {
        int64_t v = 0; mt_tf_to_int64(n, &v); return v == strtoll(def, NULL, 10);
    }
    case MT_SF_FLOAT: { double v = 0; mt_tf_to_double(n, &v); return v == strtod(def, NULL); }
    default: return n->str && !strcmp(n->str, def);
    }
}

static mtrec_status walk_msg(walk_ctx *w, mt_tf_node *msg, const mt_schema_msg *sm, size_t plen);

/* Check one child k of msg (index i) against the schema. */
static mtrec_status walk_field(walk_ctx *w, mt_tf_node *msg, int i, const mt_schema_msg *sm,
                               size_t plen) {
    char got[96];
    mt_tf_node *k = &msg->kids[i];
    const mt_schema_field *f = field_of(sm, k->name);
    if (!f) {
        const char *names[128];
        int nn = 0;
        for (const mt_schema_field *g = sm->fields; g->name && nn < 128; g++) names[nn++] = g->name;
        const char *dm = mt_did_you_mean(k->name, names, nn);
        return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: unknown field '%.64s' in %s%s%s%s", w->cfg,
                       k->line, k->col, k->name, msg->name ? msg->name : "the top level",
                       dm ? "; did you mean '" : "", dm ? dm : "", dm ? "'?" : "");
    }
    k->schema = f;
    snprintf(w->path + plen, sizeof w->path - plen, "%s%s", plen ? "." : "", k->name);
    size_t klen = strlen(w->path);
    if (f->flags & MT_SF_UNSUPPORTED)
        return mt_fail(w->e, MTREC_ERR_UNSUPPORTED, "%s:%d:%d: not supported yet: %s", w->cfg,
                       k->line, k->col, k->name);
    /* repeated fields outside a oneof need no look-back (keeps long vocab_lists linear) */
    for (int j = 0; j < i && (!(f->flags & MT_SF_REPEATED) || f->oneof); j++) {
        const mt_tf_node *o = &msg->kids[j];
        if (!(f->flags & MT_SF_REPEATED) && !strcmp(o->name, k->name))
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: field '%s' is set more than once "
                           "(first at %d:%d) but is not a repeated field", w->cfg, k->line, k->col,
                           k->name, o->line, o->col);
        const mt_schema_field *of = o->schema;
        if (f->oneof && of && of->oneof == f->oneof && strcmp(o->name, k->name))
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: '%s' and '%s' (at %d:%d) are "
                           "alternatives (one of); set only one", w->cfg, k->line, k->col, k->name,
                           o->name, o->line, o->col);
    }
    mtrec_status st = MTREC_OK;
    if (f->kind == MT_SF_MSG) {
        if (k->kind != MT_TF_MESSAGE)
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: field '%s' is a message: write "
                           "'%s { ... }', got %s", w->cfg, k->vline, k->vcol, k->name, k->name,
                           got_desc(k, got, sizeof got));
        if (f->msg && (st = walk_msg(w, k, f->msg, klen))) return st;
    } else {
        if (k->kind == MT_TF_MESSAGE)
            return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: field '%s' expects %s, not a message "
                           "block", w->cfg, k->line, k->col, k->name, kind_desc(f));
        if ((st = check_scalar(w, k, f))) return st;
        if (f->check && (st = f->check(w->cfg, k, w->e))) return st;
        if ((f->flags & MT_SF_DEFAULT_ONLY) && !equals_default(k, f))
            return mt_fail(w->e, MTREC_ERR_UNSUPPORTED, "%s:%d:%d: not supported yet: %s: %s%.40s%s "
                           "(only the default %s is)", w->cfg, k->vline, k->vcol, k->name,
                           k->kind == MT_TF_STRING ? "\"" : "", k->str,
                           k->kind == MT_TF_STRING ? "\"" : "", f->def ? f->def : "\"\"");
    }
    if (f->flags & (MT_SF_IGNORED | MT_SF_DEFAULT_ONLY)) st = ign_add(w, w->path);
    w->path[plen] = '\0';
    return st;
}

static mtrec_status walk_msg(walk_ctx *w, mt_tf_node *msg, const mt_schema_msg *sm, size_t plen) {
    mtrec_status st;
    for (int i = 0; i < msg->n_kids; i++)
        if ((st = walk_field(w, msg, i, sm, plen))) return st;
    for (const mt_schema_field *f = sm->fields; f->name; f++) {
        if (!(f->flags & MT_SF_REQUIRED) || mt_tf_find(msg, f->name)) continue;
        return mt_fail(w->e, MTREC_ERR_CONFIG, "%s:%d:%d: missing required field '%s' in %s", w->cfg,
                       msg->line, msg->col, f->name, msg->name ? msg->name : "the top level");
    }
    return MTREC_OK;
}

mtrec_status mt_schema_check(const char *cfg, mt_tf_node *root, mt_schema_ignored *ign, mt_err *e) {
    walk_ctx w;
    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.ign = ign;
    w.e = e;
    return walk_msg(&w, root, &mt_schema_pipeline, 0);
}

/* ==== cursors ====================================================================================== */

char *mt_cfg_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

mt_cfg mt_cfg_root(const mt_tf_node *root) {
    mt_cfg c = {root, &mt_schema_pipeline};
    return c;
}

const mt_tf_node *mt_cfg_node_at(mt_cfg c, const char *field, int i) {
    if (!c.node) return NULL;
    for (int k = 0; k < c.node->n_kids; k++)
        if (!strcmp(c.node->kids[k].name, field) && i-- == 0) return &c.node->kids[k];
    return NULL;
}

const mt_tf_node *mt_cfg_node(mt_cfg c, const char *field) { return mt_tf_find(c.node, field); }
int mt_cfg_count(mt_cfg c, const char *field) { return mt_tf_count(c.node, field); }
int mt_cfg_has(mt_cfg c, const char *field) { return mt_tf_find(c.node, field) != NULL; }

static mt_cfg cfg_of(mt_cfg c, const char *field, const mt_tf_node *n) {
    const mt_schema_field *f = field_of(c.sm, field);
    mt_cfg r = {n && n->kind == MT_TF_MESSAGE ? n : NULL, f ? f->msg : NULL};
    return r;
}
mt_cfg mt_cfg_sub(mt_cfg c, const char *field) { return cfg_of(c, field, mt_cfg_node(c, field)); }
mt_cfg mt_cfg_at(mt_cfg c, const char *field, int i) {
    return cfg_of(c, field, mt_cfg_node_at(c, field, i));
}

const char *mt_cfg_str(mt_cfg c, const char *field) {
    const mt_tf_node *n = mt_cfg_node(c, field);
    if (n && n->kind != MT_TF_MESSAGE) return n->str;
    const mt_schema_field *f = field_of(c.sm, field);
    return f ? f->def : NULL;
}

double mt_cfg_num(mt_cfg c, const char *field) {
    double v;
    if (!mt_tf_to_double(mt_cfg_node(c, field), &v)) return v;
    const mt_schema_field *f = field_of(c.sm, field);
    return f && f->def ? strtod(f->def, NULL) : 0.0;
}

int64_t mt_cfg_int(mt_cfg c, const char *field) {
    int64_t v;
    if (!mt_tf_to_int64(mt_cfg_node(c, field), &v)) return v;
    const mt_schema_field *f = field_of(c.sm, field);
    return f && f->def ? (int64_t)strtoll(f->def, NULL, 10) : 0;
}

int mt_cfg_bool(mt_cfg c, const char *field) {
    int v;
    if (!mt_tf_to_bool(mt_cfg_node(c, field), &v)) return v;
    const mt_schema_field *f = field_of(c.sm, field);
    return f && f->def && !strcmp(f->def, "true");
}

mt_pos mt_cfg_msg_pos(mt_cfg c) {
    mt_pos p = {1, 1};
    if (c.node) { p.line = c.node->line; p.col = c.node->col; }
    return p;
}

mt_pos mt_cfg_pos(mt_cfg c, const char *field) {
    const mt_tf_node *n = mt_cfg_node(c, field);
    if (!n) return mt_cfg_msg_pos(c);
    mt_pos p = {n->line, n->col};
    return p;
}
