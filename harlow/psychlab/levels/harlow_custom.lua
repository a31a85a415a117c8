--[[ The harlow project's Psychlab Harlow level (loaded by harlow/psychlab/dmlab.py).

DeepMind Lab's stock level (contributed/psychlab/harlow) builds the level from
harlow_factory.lua with the factory's defaults: image ids are drawn from
1..1000 (trainBatch), so a dataset folder with fewer images aborts the whole
process at the first trial. This script builds the same level from the same
factory, with the factory's keyword arguments taken from the Lab config.

How config keys reach a level script: DeepMind Lab consumes its own keys
(width, height, fps, minimalUI, ...) and passes every other key, as a string,
to the script's api:init(params). The Psychlab factory decorates api:init with
decorators/setting_overrides.lua, which copies keys it knows (those of its
envOpts, such as episodeLengthSeconds and datasetPath) and raises 'Invalid
setting' for any other key. So this script takes its own keys (below) out of
params, stores them as numbers in the factory's kwargs table and passes the
rest on. The factory reads kwargs when each episode starts (env:_init and the
trial callbacks), after init, so the values set here are the ones used.

Quirk kept: the factory ignores isTrain=false (`kwargs.isTrain or true`), so ids
are always drawn from 1..trainBatch; held-out evaluation points datasetPath at
a folder holding only the held-out images.

Each episode's image pair is published as the event 'harlow:image_pair' with
two strings: the rewarded and the unrewarded image id (1-based file numbers in
datasetPath). Trial records come from the factory as 'xdata:psychlab' events.
]]

local factory = require 'levels.contributed.psychlab.factories.harlow_factory'
local events = require 'dmlab.system.events'

-- Factory keyword arguments read from the config; each value must be a number.
-- tests/fake_deepmind_lab reads this table: keep one quoted key per line.
local FACTORY_SETTINGS = {
    'trainBatch',
    'testBatch',
    'trialsPerEpisodeCap',
    'timeToFixateCross',
    'timeToFixateTarget',
    'fastInterTrialInterval',
    'fixationReward',
    'correctReward',
    'incorrectReward',
    'targetSize',
    'fixationSize',
}

local IMAGE_PAIR_EVENT = 'harlow:image_pair'

local isFactorySetting = {}
for _, key in ipairs(FACTORY_SETTINGS) do
  isFactorySetting[key] = true
end

local kwargs = {schema = 'harlow', episodeLengthSeconds = 300}
local api = factory.createLevelApi(kwargs)

local factoryInit = api.init
function api:init(params)
  local passOn = {}
  for key, value in pairs(params) do
    if isFactorySetting[key] then
      local number = tonumber(value)
      assert(number ~= nil, 'harlow_custom.lua: setting "' .. key ..
             '" must be a number, got "' .. tostring(value) .. '"')
      kwargs[key] = number
    else
      passOn[key] = value
    end
  end
  return factoryInit(self, passOn)
end

local factoryStart = api.start
function api:start(episode, seed)
  local result = factoryStart(self, episode, seed)
  -- api._env is the point-and-click screen; its _env is the factory's Harlow
  -- environment, which drew the pair in its reset.
  local harlow = self._env and self._env._env
  if harlow and harlow.correctID and harlow.incorrectID then
    events:add(IMAGE_PAIR_EVENT, tostring(harlow.correctID),
               tostring(harlow.incorrectID))
  end
  return result
end

return api
