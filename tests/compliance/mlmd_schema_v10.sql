-- ML Metadata's MySQL schema (schema_version 10), as the metadata-grpc server creates it.
--
-- Source: google/ml-metadata tag v1.14.0 (commit 4893bf12d763278a05867b61a47a478ed1286289),
-- ml_metadata/util/metadata_source_query_config.cc: each `create_*_table` query of
-- kMySQLMetadataSourceQueryConfig, or of kBaseQueryConfig where the MySQL config does not override
-- it, and the MySQL `secondary_indices` of the current schema; whitespace collapsed, nothing else
-- changed. Apache-2.0, (c) The ML Metadata Authors.
--
-- v1.14.0 is the server kubeflow/manifests v1.11.0 runs with KFP 2.15.0:
-- applications/pipeline/upstream/base/metadata/base/metadata-grpc-deployment.yaml,
-- image gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0.

-- create_type_table (MySQL config)
CREATE TABLE IF NOT EXISTS `Type` ( `id` INT PRIMARY KEY AUTO_INCREMENT, `name` VARCHAR(255) NOT NULL, `version` VARCHAR(255), `type_kind` TINYINT(1) NOT NULL, `description` TEXT, `input_type` TEXT, `output_type` TEXT, `external_id` VARCHAR(255) UNIQUE );

-- create_parent_type_table (base config)
CREATE TABLE IF NOT EXISTS `ParentType` ( `type_id` INT NOT NULL, `parent_type_id` INT NOT NULL, PRIMARY KEY (`type_id`, `parent_type_id`));

-- create_type_property_table (base config)
CREATE TABLE IF NOT EXISTS `TypeProperty` ( `type_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL, `data_type` INT NULL, PRIMARY KEY (`type_id`, `name`));

-- create_artifact_table (MySQL config)
CREATE TABLE IF NOT EXISTS `Artifact` ( `id` INTEGER PRIMARY KEY AUTO_INCREMENT, `type_id` INT NOT NULL, `uri` TEXT, `state` INT, `name` VARCHAR(255), `external_id` VARCHAR(255) UNIQUE, `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0, `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0, CONSTRAINT UniqueArtifactTypeName UNIQUE(`type_id`, `name`) );

-- create_artifact_property_table (MySQL config)
CREATE TABLE IF NOT EXISTS `ArtifactProperty` ( `artifact_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL, `is_custom_property` TINYINT(1) NOT NULL, `int_value` INT, `double_value` DOUBLE, `string_value` MEDIUMTEXT, `byte_value` MEDIUMBLOB, `proto_value` MEDIUMBLOB, `bool_value` BOOLEAN, PRIMARY KEY (`artifact_id`, `name`, `is_custom_property`));

-- create_execution_table (MySQL config)
CREATE TABLE IF NOT EXISTS `Execution` ( `id` INTEGER PRIMARY KEY AUTO_INCREMENT, `type_id` INT NOT NULL, `last_known_state` INT, `name` VARCHAR(255), `external_id` VARCHAR(255) UNIQUE, `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0, `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0, CONSTRAINT UniqueExecutionTypeName UNIQUE(`type_id`, `name`) );

-- create_execution_property_table (MySQL config)
CREATE TABLE IF NOT EXISTS `ExecutionProperty` ( `execution_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL, `is_custom_property` TINYINT(1) NOT NULL, `int_value` INT, `double_value` DOUBLE, `string_value` MEDIUMTEXT, `byte_value` MEDIUMBLOB, `proto_value` MEDIUMBLOB, `bool_value` BOOLEAN, PRIMARY KEY (`execution_id`, `name`, `is_custom_property`));

-- create_context_table (MySQL config)
CREATE TABLE IF NOT EXISTS `Context` ( `id` INTEGER PRIMARY KEY AUTO_INCREMENT, `type_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL, `external_id` VARCHAR(255) UNIQUE, `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0, `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0, UNIQUE(`type_id`, `name`) );

-- create_context_property_table (MySQL config)
CREATE TABLE IF NOT EXISTS `ContextProperty` ( `context_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL, `is_custom_property` TINYINT(1) NOT NULL, `int_value` INT, `double_value` DOUBLE, `string_value` MEDIUMTEXT, `byte_value` MEDIUMBLOB, `proto_value` MEDIUMBLOB, `bool_value` BOOLEAN, PRIMARY KEY (`context_id`, `name`, `is_custom_property`));

-- create_parent_context_table (base config)
CREATE TABLE IF NOT EXISTS `ParentContext` ( `context_id` INT NOT NULL, `parent_context_id` INT NOT NULL, PRIMARY KEY (`context_id`, `parent_context_id`));

-- create_event_table (MySQL config)
CREATE TABLE IF NOT EXISTS `Event` ( `id` INTEGER PRIMARY KEY AUTO_INCREMENT, `artifact_id` INT NOT NULL, `execution_id` INT NOT NULL, `type` INT NOT NULL, `milliseconds_since_epoch` BIGINT, CONSTRAINT UniqueEvent UNIQUE( `artifact_id`, `execution_id`, `type`) );

-- create_event_path_table (base config)
CREATE TABLE IF NOT EXISTS `EventPath` ( `event_id` INT NOT NULL, `is_index_step` TINYINT(1) NOT NULL, `step_index` INT, `step_key` TEXT );

-- create_association_table (MySQL config)
CREATE TABLE IF NOT EXISTS `Association` ( `id` INTEGER PRIMARY KEY AUTO_INCREMENT, `context_id` INT NOT NULL, `execution_id` INT NOT NULL, UNIQUE(`context_id`, `execution_id`) );

-- create_attribution_table (MySQL config)
CREATE TABLE IF NOT EXISTS `Attribution` ( `id` INTEGER PRIMARY KEY AUTO_INCREMENT, `context_id` INT NOT NULL, `artifact_id` INT NOT NULL, UNIQUE(`context_id`, `artifact_id`) );

-- create_mlmd_env_table (base config)
CREATE TABLE IF NOT EXISTS `MLMDEnv` ( `schema_version` INTEGER PRIMARY KEY );

ALTER TABLE `Artifact` ADD INDEX `idx_artifact_uri`(`uri`(255)), ADD INDEX `idx_artifact_create_time_since_epoch` (`create_time_since_epoch`), ADD INDEX `idx_artifact_last_update_time_since_epoch` (`last_update_time_since_epoch`);
ALTER TABLE `Event` ADD INDEX `idx_event_execution_id` (`execution_id`);
ALTER TABLE `ParentContext` ADD INDEX `idx_parentcontext_parent_context_id` (`parent_context_id`);
ALTER TABLE `Type` ADD INDEX `idx_type_name` (`name`);
ALTER TABLE `Execution` ADD INDEX `idx_execution_create_time_since_epoch` (`create_time_since_epoch`), ADD INDEX `idx_execution_last_update_time_since_epoch` (`last_update_time_since_epoch`);
ALTER TABLE `Context` ADD INDEX `idx_context_create_time_since_epoch` (`create_time_since_epoch`), ADD INDEX `idx_context_last_update_time_since_epoch` (`last_update_time_since_epoch`);
ALTER TABLE `EventPath` ADD INDEX `idx_eventpath_event_id`(`event_id`);
ALTER TABLE `ArtifactProperty` ADD INDEX `idx_artifact_property_int`( `name`, `is_custom_property`, `int_value`);
ALTER TABLE `ArtifactProperty` ADD INDEX `idx_artifact_property_double`( `name`, `is_custom_property`, `double_value`);
ALTER TABLE `ArtifactProperty` ADD INDEX `idx_artifact_property_string`( `name`, `is_custom_property`, `string_value`(255));
ALTER TABLE `ExecutionProperty` ADD INDEX `idx_execution_property_int`( `name`, `is_custom_property`, `int_value`);
ALTER TABLE `ExecutionProperty` ADD INDEX `idx_execution_property_double`( `name`, `is_custom_property`, `double_value`);
ALTER TABLE `ExecutionProperty` ADD INDEX `idx_execution_property_string`( `name`, `is_custom_property`, `string_value`(255));
ALTER TABLE `ContextProperty` ADD INDEX `idx_context_property_int`( `name`, `is_custom_property`, `int_value`);
ALTER TABLE `ContextProperty` ADD INDEX `idx_context_property_double`( `name`, `is_custom_property`, `double_value`);
ALTER TABLE `ContextProperty` ADD INDEX `idx_context_property_string`( `name`, `is_custom_property`, `string_value`(255));
ALTER TABLE `Type` ADD INDEX `idx_type_external_id` (`external_id`);
ALTER TABLE `Artifact` ADD INDEX `idx_artifact_external_id` (`external_id`);
ALTER TABLE `Execution` ADD INDEX `idx_execution_external_id` (`external_id`);
ALTER TABLE `Context` ADD INDEX `idx_context_external_id` (`external_id`);

INSERT INTO `MLMDEnv`(`schema_version`) VALUES(10);
